import { readFileSync } from 'node:fs';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  getNamedType,
  getNullableType,
  GraphQLError,
  isListType,
  isObjectType,
  isInterfaceType,
  Kind,
  parse,
  TokenKind,
  valueFromASTUntyped,
  visitInParallel,
  type ArgumentNode,
  type ASTVisitor,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValueNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import type { GraphQLLimits, GraphQLSettings, Logger } from '@hub/runtime';
import { CLIENT_HEADER, VIA_HEADER, type Identity } from './auth.ts';

/**
 * Limits on one GraphQL operation, checked before anything executes: tokens (while parsing), depth, aliases and
 * directives (graphql-armor's rules, at validation), and a cost (at the start of execution, when the variables that
 * size lists are known). Each refusal is a QUERY_TOO_COMPLEX error naming the limit, answered with HTTP 400.
 */
export const QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX';

export type LimitName = keyof GraphQLLimits;

export function tooComplex(limit: LimitName, max: number, message: string, found?: number): GraphQLError {
  return new GraphQLError(message, { extensions: { code: QUERY_TOO_COMPLEX, limit, max, ...(found !== undefined ? { found } : {}), http: { status: 400 } } });
}

/** The limits that apply to a client: its own (GRAPHQL_LIMITS_BY_CLIENT), else the defaults. */
export function limitsFor(settings: GraphQLSettings, client: string | undefined): { key: string; limits: GraphQLLimits } {
  const own = client !== undefined ? settings.limitsByClient[client] : undefined;
  return own ? { key: `client:${client}`, limits: { ...settings.limits, ...own } } : { key: 'default', limits: settings.limits };
}

/**
 * The authenticated client behind a yoga context: over graphql-ws the identity the connection proved, over HTTP the
 * one the server put in the headers. A caller without credentials has no per-client limits (it could claim any name).
 */
export function clientOf(context: { request?: Request; identity?: Identity } | undefined): string | undefined {
  if (context?.identity) return context.identity.via === 'anonymous' ? undefined : context.identity.client;
  const h = context?.request?.headers;
  if (!h || h.get(VIA_HEADER) === null || h.get(VIA_HEADER) === 'anonymous') return undefined;
  return h.get(CLIENT_HEADER) ?? undefined;
}

/** The tokens of a parsed document (its location keeps the lexer's token list). */
function tokenCount(document: DocumentNode): number {
  let n = 0;
  for (let t = document.loc?.startToken.next; t && t.kind !== TokenKind.EOF; t = t.next) if (t.kind !== TokenKind.COMMENT) n++;
  return n;
}

const stripPrefix = (m: string) => m.replace(/^Syntax Error: /, '');

/** One validation rule per set of limits, named for it: yoga caches validation results per rule names. */
function limitsRule(key: string, l: GraphQLLimits) {
  const reject = (limit: LimitName, max: number) => [
    (_ctx: unknown, err: GraphQLError) => {
      throw tooComplex(limit, max, stripPrefix(err.message));
    },
  ];
  const armor = { exposeLimits: true, propagateOnRejection: false };
  const rule = (context: ValidationContext): ASTVisitor => {
    const tokens: ASTVisitor = {
      Document(node) {
        const n = tokenCount(node);
        if (n > l.maxTokens) throw tooComplex('maxTokens', l.maxTokens, `Token limit of ${l.maxTokens} exceeded, found ${n}.`, n);
      },
    };
    return visitInParallel([
      tokens,
      maxAliasesRule({ ...armor, n: l.maxAliases, onReject: reject('maxAliases', l.maxAliases) })(context),
      maxDepthRule({ ...armor, n: l.maxDepth, onReject: reject('maxDepth', l.maxDepth) })(context),
      maxDirectivesRule({ ...armor, n: l.maxDirectives, onReject: reject('maxDirectives', l.maxDirectives) })(context),
    ]);
  };
  Object.defineProperty(rule, 'name', { value: `hubLimits(${key})` });
  return rule;
}

/**
 * Fields that make an upstream call of their own, from the supergraph's join directives: every root field (a
 * fetch), and an entity's field its home subgraph (the one resolving most of its fields) does not resolve: the
 * query planner fetches it from another (`Resident.demographics` from nhs, an `ExternalSystem`'s `integrations` from
 * integrations). Connector subgraphs' fields reach their external API that way, so they are counted too.
 */
export function upstreamFields(supergraphSdl: string): Set<string> {
  const out = new Set<string>();
  const ROOTS = new Set(['Query', 'Mutation', 'Subscription']);
  const graphsOf = (directives: readonly { name: { value: string }; arguments?: readonly ArgumentNode[] }[] | undefined, name: string) =>
    (directives ?? [])
      .filter((d) => d.name.value === name)
      .filter((d) => !d.arguments?.some((a) => a.name.value === 'external' && a.value.kind === Kind.BOOLEAN && a.value.value))
      .map((d) => d.arguments?.find((a) => a.name.value === 'graph')?.value)
      .filter((v): v is ValueNode => !!v && v.kind === Kind.ENUM)
      .map((v) => (v as { value: string }).value);
  const typeGraphs = new Map<string, Set<string>>();
  const doc = parse(supergraphSdl, { noLocation: true });
  for (const def of doc.definitions) {
    if (def.kind !== Kind.OBJECT_TYPE_DEFINITION && def.kind !== Kind.OBJECT_TYPE_EXTENSION && def.kind !== Kind.INTERFACE_TYPE_DEFINITION) continue;
    const set = typeGraphs.get(def.name.value) ?? new Set<string>();
    for (const g of graphsOf(def.directives, 'join__type')) set.add(g);
    typeGraphs.set(def.name.value, set);
  }
  for (const def of doc.definitions) {
    if ((def.kind !== Kind.OBJECT_TYPE_DEFINITION && def.kind !== Kind.OBJECT_TYPE_EXTENSION && def.kind !== Kind.INTERFACE_TYPE_DEFINITION) || !def.fields) continue;
    const type = def.name.value;
    const all = [...(typeGraphs.get(type) ?? [])];
    const owners = def.fields.filter((f) => !f.name.value.startsWith('_')).map((f) => {
      const own = graphsOf(f.directives, 'join__field');
      return [f.name.value, own.length ? own : all] as const;
    });
    if (ROOTS.has(type)) {
      for (const [name] of owners) out.add(`${type}.${name}`);
      continue;
    }
    if (all.length < 2) continue;
    // The entity's home is the subgraph that resolves most of its fields; what only another one resolves is fetched.
    const count = new Map(all.map((g) => [g, owners.filter(([, gs]) => gs.includes(g)).length]));
    const home = all.reduce((a, b) => ((count.get(b) ?? 0) > (count.get(a) ?? 0) ? b : a));
    for (const [name, gs] of owners) if (!gs.includes(home)) out.add(`${type}.${name}`);
  }
  return out;
}

const SIZE_ARGS = ['first', 'last', 'limit'];

/**
 * What an operation may cost: each field 1, plus `upstreamCost` for a field that makes its own upstream call; a
 * field's selection counts once per item it returns: `first`/`last`/`limit` (literal, variable or default), else
 * `listSize` for a list. A list straight under a sized field (a page's `events`) takes that field's size.
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  limits: Pick<GraphQLLimits, 'listSize' | 'upstreamCost'>,
  upstream: ReadonlySet<string>,
): number {
  const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const op = operationName ? ops.find((o) => o.name?.value === operationName) : ops[0];
  if (!op) return 0;
  const fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]));
  const defaults = new Map((op.variableDefinitions ?? []).map((v) => [v.variable.name.value, v.defaultValue]));
  const memo = new Map<string, number>();

  const size = (field: FieldNode, def: GraphQLField<unknown, unknown>): number | undefined => {
    for (const name of SIZE_ARGS) {
      const arg = field.arguments?.find((a) => a.name.value === name);
      let v: unknown;
      if (arg?.value.kind === Kind.VARIABLE) {
        const key = arg.value.name.value;
        v = variables && key in variables ? variables[key] : defaults.get(key) ? valueFromASTUntyped(defaults.get(key)!) : undefined;
      } else if (arg) v = valueFromASTUntyped(arg.value);
      if (v === undefined || v === null) v = def.args.find((a) => a.name === name)?.defaultValue;
      if (typeof v === 'number' && Number.isFinite(v)) return Math.max(0, Math.floor(v));
    }
    return undefined;
  };

  const selectionCost = (set: SelectionSetNode, parent: GraphQLCompositeType, sized: boolean, seen: Set<string>): number => {
    let total = 0;
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) total += fieldCost(s, parent, sized, seen);
      else if (s.kind === Kind.INLINE_FRAGMENT) {
        const t = s.typeCondition ? (schema.getType(s.typeCondition.name.value) as GraphQLCompositeType | undefined) : parent;
        if (t) total += selectionCost(s.selectionSet, t, sized, seen);
      } else {
        const f = fragments.get(s.name.value);
        if (!f || seen.has(f.name.value)) continue; // cycles are a validation error; never loop here
        const key = `${f.name.value}:${sized}`;
        let c = memo.get(key);
        if (c === undefined) {
          const t = schema.getType(f.typeCondition.name.value) as GraphQLCompositeType | undefined;
          c = t ? selectionCost(f.selectionSet, t, sized, new Set([...seen, f.name.value])) : 0;
          memo.set(key, c);
        }
        total += c;
      }
    }
    return total;
  };

  const fieldCost = (field: FieldNode, parent: GraphQLCompositeType, parentSized: boolean, seen: Set<string>): number => {
    if (field.name.value.startsWith('__')) return 0; // introspection and __typename
    const def = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[field.name.value] : undefined;
    if (!def) return 1;
    const own = 1 + (upstream.has(`${parent.name}.${field.name.value}`) ? limits.upstreamCost : 0);
    if (!field.selectionSet) return own;
    const n = size(field, def);
    const list = isListType(getNullableType(def.type));
    const items = n ?? (list ? (parentSized ? 1 : limits.listSize) : 1);
    return own + items * selectionCost(field.selectionSet, getNamedType(def.type) as GraphQLCompositeType, n !== undefined && !list, seen);
  };

  const root = op.operation === 'mutation' ? schema.getMutationType() : op.operation === 'subscription' ? schema.getSubscriptionType() : schema.getQueryType();
  return root ? selectionCost(op.selectionSet, root, false, new Set()) : 0;
}

/** The cost check of one execution: a QUERY_TOO_COMPLEX error, or nothing. */
export function costError(
  args: { schema: GraphQLSchema; document: DocumentNode; operationName?: string | null; variableValues?: Record<string, unknown> | null },
  limits: GraphQLLimits,
  upstream: ReadonlySet<string>,
): GraphQLError | undefined {
  const cost = operationCost(args.schema, args.document, args.operationName, args.variableValues, limits, upstream);
  if (cost > limits.maxCost) return tooComplex('maxCost', limits.maxCost, `Query cost limit of ${limits.maxCost} exceeded, found ${Math.round(cost)}.`, Math.round(cost));
  return undefined;
}

export interface LimitsPluginOptions {
  settings: GraphQLSettings;
  /** Fields that make an upstream call (upstreamFields of the current supergraph); replaced when it recomposes. */
  upstream: () => ReadonlySet<string>;
  /**
   * The hub's own fixed operations (the REST facade, the audit export): written here, each list bounded by its
   * resolver, they are not costed (a subject-access bundle asks for 10,000 events by design). Their shape is still checked.
   */
  trusted?: (request: Request) => boolean;
}

/** The yoga plugin: tokens while parsing, the shape at validation, the cost before execution. */
/** Cost verdicts remembered per document: for at most this many variable sets, each named by at most this many characters. */
const MEMO_MAX_PER_DOCUMENT = 64;
const MEMO_MAX_KEY = 2_048;

export function useLimits(o: LimitsPluginOptions): Plugin {
  const costs = new WeakMap<DocumentNode, { upstream: ReadonlySet<string>; verdicts: Map<string, GraphQLError | null> }>();
  // The parser stops at the most tokens any client may send; a stricter client's limit is checked at validation.
  const parseCap = Math.max(o.settings.limits.maxTokens, ...Object.values(o.settings.limitsByClient).map((l) => l.maxTokens ?? 0));
  const rules = new Map<string, ReturnType<typeof limitsRule>>();
  const ruleFor = (context: unknown) => {
    const { key, limits } = limitsFor(o.settings, clientOf(context as never));
    let r = rules.get(key);
    if (!r) rules.set(key, (r = limitsRule(key, limits)));
    return r;
  };
  return {
    onParse({ parseFn, setParseFn }) {
      setParseFn((source, options) => {
        try {
          return parseFn(source, { ...options, maxTokens: parseCap });
        } catch (err) {
          if (err instanceof GraphQLError && /contains more th(an|at) \d+ tokens/.test(err.message)) {
            throw tooComplex('maxTokens', parseCap, `Token limit of ${parseCap} exceeded.`);
          }
          throw err;
        }
      });
    },
    onValidate({ addValidationRule, context }) {
      addValidationRule(ruleFor(context));
    },
    onExecute({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as { request?: Request; identity?: Identity };
      if (ctx.request && o.trusted?.(ctx.request)) return;
      const { key, limits } = limitsFor(o.settings, clientOf(ctx));
      // The same document (yoga's parser cache hands back the same object), client limits, variables and supergraph
      // cost the same: remembered, so a hot query is not walked again on every request.
      const upstream = o.upstream();
      const memo = `${key}\u0000${args.operationName ?? ''}\u0000${args.variableValues ? JSON.stringify(args.variableValues) : ''}`;
      let byDoc = costs.get(args.document);
      if (!byDoc || byDoc.upstream !== upstream) costs.set(args.document, (byDoc = { upstream, verdicts: new Map() }));
      let verdict = byDoc.verdicts.get(memo);
      if (verdict === undefined) {
        verdict = costError(args, limits, upstream) ?? null;
        if (memo.length <= MEMO_MAX_KEY && byDoc.verdicts.size < MEMO_MAX_PER_DOCUMENT) byDoc.verdicts.set(memo, verdict);
      }
      if (verdict) setResultAndStopExecution({ errors: [verdict] });
    },
    onResultProcess({ result }) {
      // yoga marks errors raised while parsing as the spec's (answered 200 to `Accept: application/json`); a refusal
      // by a limit is 400 for every client.
      for (const r of Array.isArray(result) ? result : [result]) {
        for (const e of (r as { errors?: readonly GraphQLError[] } | undefined)?.errors ?? []) {
          const http = e.extensions?.http as { spec?: boolean } | undefined;
          if (e.extensions?.code === QUERY_TOO_COMPLEX && http) http.spec = false;
        }
      }
    },
  };
}

/**
 * Trusted documents: a JSON file of operation id to document text (`{ "<sha256>": "query ..." }`), or an Apollo
 * persisted query manifest (`{ "format": "apollo-persisted-query-manifest", "operations": [{ "id", "body" }] }`).
 */
export function readPersistedOperations(file: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`invalid configuration:\n  GRAPHQL_PERSISTED_OPERATIONS_FILE: cannot read ${file} as JSON (${(err as Error).message})`);
  }
  const entries: Array<[string, unknown]> =
    json && typeof json === 'object' && Array.isArray((json as { operations?: unknown }).operations)
      ? (json as { operations: Array<{ id?: unknown; body?: unknown }> }).operations.map((op) => [String(op.id), op.body])
      : Object.entries((json ?? {}) as Record<string, unknown>);
  const map = new Map<string, string>();
  for (const [id, body] of entries) {
    if (typeof body !== 'string' || !id) throw new Error(`invalid configuration:\n  GRAPHQL_PERSISTED_OPERATIONS_FILE: entry ${id} is not a document`);
    map.set(id, body);
  }
  return map;
}

/** The id a request names its trusted document by: `documentId` (GraphQL over HTTP) or APQ's `sha256Hash`. */
export function persistedOperationId(params: { extensions?: Record<string, unknown>; documentId?: unknown } & Record<string, unknown>): string | null {
  if (typeof params.documentId === 'string') return params.documentId;
  const pq = params.extensions?.persistedQuery as { version?: unknown; sha256Hash?: unknown } | undefined;
  return pq && pq.version === 1 && typeof pq.sha256Hash === 'string' ? pq.sha256Hash : null;
}

/**
 * The persisted operations plugin over that store. `trusted(request)`: the hub's own fixed operations (the REST
 * facade, the audit export), which run when arbitrary documents are refused.
 */
export function usePersistedDocuments(store: Map<string, string>, required: boolean, trusted: (request: Request) => boolean, log: Logger): Plugin {
  log.info({ operations: store.size, required }, required ? 'trusted documents only: other operations are refused' : 'trusted documents loaded');
  return usePersistedOperations({
    getPersistedOperation: (id) => store.get(id) ?? null,
    allowArbitraryOperations: required ? (request) => trusted(request) : true,
    extractPersistedOperationId: (params) => persistedOperationId(params as never),
    customErrors: {
      notFound: { message: 'no trusted document has that id', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 400 } } },
      persistedQueryOnly: { message: 'this hub runs trusted documents only: send its id as documentId (or extensions.persistedQuery.sha256Hash)', extensions: { code: 'PERSISTED_QUERY_REQUIRED', http: { status: 400 } } },
      keyNotFound: { message: 'the request names no document: send query, or a trusted document id as documentId', extensions: { code: 'BAD_REQUEST', http: { status: 400 } } },
    },
  }) as Plugin;
}
