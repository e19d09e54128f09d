import { AsyncLocalStorage } from 'node:async_hooks';
import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { execute, parse, validate, type DocumentNode, type GraphQLError, type GraphQLSchema } from 'graphql';
import { LRUCache } from 'lru-cache';
import { RemoteGraphQLDataSource } from '@apollo/gateway';
import { INTERNAL_TOKEN_HEADER, servicePrincipal, signInternalToken, toGraphQLError, type InternalKeys, type Logger, type RequestContext } from '@hub/runtime';
import { timeoutError } from './deadline.ts';

type HubGatewayContext = RequestContext & Record<string, any>;

/** Adds a subgraph's response extensions to the gateway request's, list by list. */
export function mergeExtensions(into: RequestContext, from: Record<string, unknown>): void {
  into.extensions ??= {};
  for (const [key, entries] of Object.entries(from)) {
    if (Array.isArray(entries)) (into.extensions[key] ??= []).push(...entries);
  }
}

/**
 * A subgraph in another process: the request id and the caller travel with each fetch (the caller as a short-lived
 * token signed with the internal key, which is all the subgraph believes), and what the subgraph put in its
 * response's extensions reaches the client's response.
 */
export class RemoteSubgraphDataSource extends RemoteGraphQLDataSource<HubGatewayContext> {
  /** The signal of the client request a fetch is made for: the fetcher has no context of its own. */
  private static readonly signals = new AsyncLocalStorage<AbortSignal | undefined>();

  constructor(
    config: ConstructorParameters<typeof RemoteGraphQLDataSource<HubGatewayContext>>[0],
    private readonly keys: InternalKeys,
    private readonly subgraph: string,
  ) {
    super(config);
    // The request's time budget reaches the subgraph: once it is spent, the fetch is aborted, not left running.
    const base = this.fetcher;
    this.fetcher = ((url: string, init: Record<string, unknown>) => base(url, { ...init, signal: RemoteSubgraphDataSource.signals.getStore() } as never)) as typeof base;
  }

  override process(options: GraphQLDataSourceProcessOptions<HubGatewayContext>): Promise<GatewayGraphQLResponse> {
    const signal = (options.context as RequestContext | undefined)?.signal;
    if (signal?.aborted) return Promise.resolve({ errors: [timeoutError(signal).toJSON()] });
    return RemoteSubgraphDataSource.signals.run(signal, () => super.process(options));
  }

  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<HubGatewayContext>) {
    if (context?.requestId) request.http?.headers.set('x-request-id', context.requestId);
    if (context?.actor) request.http?.headers.set('x-hub-client', context.actor);
    // No caller (the gateway's own health check, a composition fetch): the gateway speaks for itself.
    const principal = context?.principal ?? servicePrincipal('', 'gateway');
    request.http?.headers.set(INTERNAL_TOKEN_HEADER, await signInternalToken(this.keys, principal, this.subgraph));
  }

  override didReceiveResponse({ response, context }: { response: GatewayGraphQLResponse; context: HubGatewayContext }) {
    const ext = response.extensions?.hub;
    if (context && ext && typeof ext === 'object') mergeExtensions(context, ext as Record<string, unknown>);
    return response;
  }
}

/**
 * Runs a subgraph fetch of the query plan inside this process: no HTTP, no JSON round trip. Documents are parsed
 * and validated once per distinct query text (the gateway sends the same few plan fragments again and again),
 * which is most of what the stock LocalGraphQLDataSource spends its time on.
 */
export class InProcessDataSource implements GraphQLDataSource {
  private readonly documents = new LRUCache<string, DocumentNode | readonly GraphQLError[]>({ max: 2_000 });

  constructor(
    readonly schema: GraphQLSchema,
    private readonly log: Logger,
  ) {}

  async process({ request, context }: GraphQLDataSourceProcessOptions): Promise<GatewayGraphQLResponse> {
    const query = request.query!;
    let doc = this.documents.get(query);
    if (!doc) {
      const parsed = parse(query);
      const errors = validate(this.schema, parsed);
      doc = errors.length ? errors : parsed;
      this.documents.set(query, doc);
    }
    if (Array.isArray(doc)) return { errors: (doc as GraphQLError[]).map((e) => e.toJSON()) };
    const outer = context as RequestContext | undefined;
    // One set of loaders per client request, shared by every fetch of its query plan: a resident read by one
    // fetch is not read again by the next (loader names are prefixed by their subgraph).
    const loaders = outer ? (outer.loaders ??= new Map()) : new Map();
    // The request's signal reaches the resolvers (and, through them, database queries and outbound calls).
    const ctx: RequestContext = { requestId: outer?.requestId, actor: outer?.actor, principal: outer?.principal, loaders, signal: outer?.signal };
    if (outer?.signal?.aborted) return { errors: [timeoutError(outer.signal).toJSON()] };
    const result = await execute({
      schema: this.schema,
      document: doc as DocumentNode,
      variableValues: request.variables,
      operationName: request.operationName,
      contextValue: ctx,
    });
    if (outer && ctx.extensions) mergeExtensions(outer, ctx.extensions);
    return {
      data: result.data as Record<string, unknown> | null | undefined,
      ...(result.errors?.length ? { errors: result.errors.map((e) => this.format(e)) } : {}),
    };
  }

  private format(e: GraphQLError) {
    const mapped = toGraphQLError(e);
    // Internal errors are hidden from clients; the operator still needs the cause.
    if (mapped.extensions.code === 'INTERNAL') this.log.error({ err: e.originalError ?? e, path: e.path }, 'resolver failed');
    return mapped.toJSON();
  }
}
