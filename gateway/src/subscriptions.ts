import type { IncomingMessage, Server } from 'node:http';
import {
  getArgumentValues,
  getOperationAST,
  GraphQLError,
  Kind,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type OperationDefinitionNode,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { isHubError, rateLimited, toGraphQLError, unauthenticated, type HubConfig, type KeyValue, type Logger, type RequestContext } from '@hub/runtime';
import { assertScope, CLIENT_HEADER, type Authenticator, type Identity } from './auth.ts';
import { deadline } from './deadline.ts';
import { clientKey, hostAllowed, OpenCounter, originAllowed } from './doors.ts';
import { trustedDocuments } from './guards.ts';
import { clientOf, costError, limitsFor, persistedOperationId } from './limits.ts';
import { parseFromSequence, type EventFilter, type EventStreamSource } from '@hub/subgraph-events';

const EVENT_ID = '__hubEventId';

type Enveloped = ReturnType<YogaServerInstance<any, any>['getEnveloped']>;
interface Args extends ExecutionArgs {
  rootValue: { enveloped: Enveloped };
}

/**
 * The subscription's selection, turned into a query for one event (`integrationEvent(id)`) under the same
 * response key. Run through the gateway for each event, it resolves the fields other subgraphs own (an event's
 * `system { name }`), which @apollo/gateway cannot do for a subscription by itself.
 */
function perEventQuery(document: DocumentNode, op: OperationDefinitionNode, field: FieldNode): DocumentNode {
  const query: OperationDefinitionNode = {
    ...op,
    operation: 'query' as OperationDefinitionNode['operation'],
    variableDefinitions: [
      ...(op.variableDefinitions ?? []),
      {
        kind: Kind.VARIABLE_DEFINITION,
        variable: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: EVENT_ID } },
        type: { kind: Kind.NON_NULL_TYPE, type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: 'ID' } } },
      },
    ],
    selectionSet: {
      kind: Kind.SELECTION_SET,
      selections: [
        {
          ...field,
          alias: field.alias ?? { kind: Kind.NAME, value: field.name.value },
          name: { kind: Kind.NAME, value: 'integrationEvent' },
          arguments: [{ kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: 'id' }, value: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: EVENT_ID } } }],
        },
      ],
    },
  };
  return { ...document, definitions: document.definitions.map((d) => (d === op ? query : d)) };
}

/** An iterator whose `return()` stops the stream at once, even while it is waiting for the next event. */
function abortable<T>(make: (signal: AbortSignal) => AsyncGenerator<T>): AsyncIterableIterator<T> {
  const ac = new AbortController();
  const it = make(ac.signal);
  return {
    next: () => it.next(),
    async return() {
      ac.abort();
      void it.return(undefined).catch(() => {});
      return { done: true, value: undefined };
    },
    async throw(err) {
      ac.abort();
      return it.throw(err);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

const errorResult = (err: unknown): ExecutionResult => ({ errors: [toGraphQLError(err)] });

/** Close codes: the socket's token expired; the client holds too many sockets or called too often. */
export const CLOSE_TOKEN_EXPIRED = 4401;
export const CLOSE_TOO_MANY = 4429;

export interface SubscriptionDoors {
  config: HubConfig;
  /** The per-client request limiter's store (RATE_LIMIT_PER_MINUTE): connects and operations count against it. */
  kv?: KeyValue;
  /** Fields that make their own upstream call (limits.ts), for a subscription's cost. */
  upstream: () => ReadonlySet<string>;
}

type Extra = {
  request: IncomingMessage;
  socket: { close(code?: number, reason?: string): void };
  identity?: Identity;
  /** The allowance key the connection holds a slot under, once it has one. */
  holder?: string;
  expiry?: ReturnType<typeof setTimeout>;
  /** Operation ids holding one of the client's subscription slots. */
  subscriptions?: Set<string>;
};

/**
 * graphql-ws on the gateway's own port and path. Queries and mutations go through the same yoga pipeline as HTTP
 * (and so through the gateway); `Subscription.events` streams from the event log, each event resolved through
 * the gateway with the client's selection.
 */
export function attachSubscriptions(server: Server, yoga: YogaServerInstance<any, any>, events: EventStreamSource | undefined, log: Logger, auth: Authenticator, doors: SubscriptionDoors) {
  const d = doors.config.doors;
  const g = doors.config.graphql;
  const perMinute = doors.config.rateLimitPerMinute;
  // The same limiter (and allowance) as HTTP requests: a WebSocket is not a way around RATE_LIMIT_PER_MINUTE.
  const limiter = doors.kv && perMinute ? doors.kv.rateLimiter('client', perMinute, 60) : undefined;
  const connections = new OpenCounter(d.wsMaxConnectionsPerClient);
  const subscriptions = new OpenCounter(d.wsMaxSubscriptionsPerClient);
  const trusted = g.persistedOperations ? trustedDocuments(g.persistedOperations.file) : undefined;
  const allowed = async (key: string) => {
    if (!limiter) return true;
    try {
      await limiter.consume(key);
      return true;
    } catch {
      return false;
    }
  };
  const wss = new WebSocketServer({
    server,
    path: '/graphql',
    // Enforced by ws on every frame, connection_init included: a larger message closes the socket (1009).
    maxPayload: d.wsMaxPayloadBytes,
    // The upgrade names a Host the gateway answers to and, from a browser, an Origin that may call it.
    verifyClient: ({ req, origin }: { req: IncomingMessage; origin?: string }, done: (ok: boolean, code?: number, message?: string) => void) => {
      if (!hostAllowed(d, req.headers.host)) return done(false, 421, 'host not allowed');
      if (!originAllowed(d, origin || undefined, req.headers.host)) return done(false, 403, 'origin not allowed');
      done(true);
    },
  });
  // ws closes a socket whose message is too large (1009) and then emits the error; graphql-ws would print each one
  // to the console as an internal error. It is the caller's, not ours: log it quietly (registered before useServer).
  wss.on('connection', (socket) => {
    const emit = socket.emit.bind(socket);
    socket.emit = ((event: string, ...args: unknown[]) => {
      if (event === 'error' && (args[0] as { code?: string } | undefined)?.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        log.info({ limit: d.wsMaxPayloadBytes }, 'websocket closed: message larger than WS_MAX_PAYLOAD_BYTES');
        return true;
      }
      return emit(event, ...args);
    }) as typeof socket.emit;
  });
  useServer<Record<string, unknown>, Extra>(
    {
      connectionInitWaitTimeout: d.wsConnectionInitTimeoutMs,
      // Credentials come with the upgrade request's headers, or (browsers cannot set those on a WebSocket) in the
      // connection_init payload: { "authorization": "Bearer ..." } or { "apiKey": "..." }. A refusal closes with 4403.
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const headers = ctx.extra.request.headers;
        try {
          const identity = (ctx.extra.identity = await auth.authenticate({
            authorization: (typeof params.authorization === 'string' ? params.authorization : undefined) ?? headers.authorization,
            apiKey: (typeof params.apiKey === 'string' ? params.apiKey : undefined) ?? (headers['x-api-key'] as string | undefined),
            claimed: (headers[CLIENT_HEADER] as string | undefined) ?? ctx.extra.request.socket.remoteAddress,
          }));
          const key = clientKey(identity, ctx.extra.request.socket.remoteAddress);
          if (!(await allowed(key))) {
            ctx.extra.socket.close(CLOSE_TOO_MANY, 'rate limited (RATE_LIMIT_PER_MINUTE)');
            return false;
          }
          if (!connections.acquire(key)) {
            ctx.extra.socket.close(CLOSE_TOO_MANY, `too many connections (WS_MAX_CONNECTIONS_PER_CLIENT ${connections.limit})`);
            return false;
          }
          ctx.extra.holder = key;
          // A connection lives no longer than the token it was opened with.
          if (identity.expiresAt !== undefined) {
            const left = identity.expiresAt - Date.now();
            if (left <= 0) {
              ctx.extra.socket.close(CLOSE_TOKEN_EXPIRED, 'token expired');
              return false;
            }
            ctx.extra.expiry = setTimeout(() => ctx.extra.socket.close(CLOSE_TOKEN_EXPIRED, 'token expired'), Math.min(left, 2 ** 31 - 1));
            ctx.extra.expiry.unref?.();
          }
          return true;
        } catch (err) {
          if (!isHubError(err)) throw err;
          log.info({ reason: err.message }, 'websocket connection refused');
          return false;
        }
      },
      execute: (args) => (args as Args).rootValue.enveloped.execute(args),
      subscribe: async (args) => {
        const a = args as Args;
        const op = getOperationAST(a.document, a.operationName);
        if (!op) return errorResult(new GraphQLError('no operation to run'));
        if (op.operation !== 'subscription') return a.rootValue.enveloped.execute(args);
        if (!events) return errorResult(new GraphQLError('this gateway process does not serve event subscriptions', { extensions: { code: 'BAD_REQUEST' } }));
        const field = op.selectionSet.selections[0] as FieldNode;
        const definition = a.schema.getSubscriptionType()?.getFields()[field.name.value];
        if (!definition || field.name.value !== 'events') return errorResult(new GraphQLError(`unknown subscription ${field.name.value}`));
        let filter: EventFilter;
        let from: number | null;
        try {
          const values = getArgumentValues(definition, field, a.variableValues ?? {});
          filter = (values.filter ?? {}) as EventFilter;
          from = parseFromSequence(values.fromSequence as string | undefined);
        } catch (err) {
          return errorResult(err);
        }
        // The connection's principal (from the identity it proved in onConnect): the stream carries only what it may read.
        const principal = (a.contextValue as RequestContext).principal;
        if (!principal) return errorResult(unauthenticated('the connection has no authenticated caller'));
        const document = perEventQuery(a.document, op, field);
        return abortable(async function* (signal) {
          for await (const e of events.stream(principal, filter, from, signal)) {
            yield (await a.rootValue.enveloped.execute({ ...a, document, variableValues: { ...a.variableValues, [EVENT_ID]: e.id } })) as ExecutionResult;
          }
        });
      },
      onSubscribe: async (ctx, id, payload) => {
        const key = ctx.extra.holder ?? 'unknown';
        if (!(await allowed(key))) return [toGraphQLError(rateLimited('too many requests (RATE_LIMIT_PER_MINUTE)', { retryAfterSeconds: 60 }))];
        // Trusted documents: the same store as over HTTP; only those when they are required.
        let query = payload.query;
        const docId = persistedOperationId(payload as never);
        if (trusted && (docId || g.persistedOperations!.required)) {
          const known = docId ? trusted.get(docId) : undefined;
          if (!known) return [new GraphQLError(docId ? 'no trusted document has that id' : 'this hub runs trusted documents only: send its id as documentId', { extensions: { code: docId ? 'PERSISTED_QUERY_NOT_FOUND' : 'PERSISTED_QUERY_REQUIRED' } })];
          query = known;
        }
        const enveloped = yoga.getEnveloped({ ...ctx, req: ctx.extra.request, socket: ctx.extra.socket, params: { ...payload, query }, identity: ctx.extra.identity });
        let document: DocumentNode;
        let errors: readonly GraphQLError[];
        try {
          // The limits (tokens, depth, aliases, directives) run here as over HTTP, and refuse by throwing.
          document = enveloped.parse(query);
          errors = enveloped.validate(enveloped.schema, document);
        } catch (err) {
          return [err instanceof GraphQLError ? err : new GraphQLError(String(err))];
        }
        if (errors.length) return errors;
        const contextValue = await enveloped.contextFactory();
        const op = getOperationAST(document, payload.operationName);
        try {
          // Queries and mutations are checked again where they execute (useScopes); a subscription is checked here.
          if (op?.operation === 'subscription') assertScope(contextValue as never, 'subscription');
        } catch (err) {
          return [toGraphQLError(err)];
        }
        if (op?.operation === 'subscription') {
          // Each event runs the selection once: its cost is checked before the stream starts.
          const tooCostly = costError({ schema: enveloped.schema, document, operationName: payload.operationName, variableValues: payload.variables }, limitsFor(g, clientOf({ identity: ctx.extra.identity })).limits, doors.upstream());
          if (tooCostly) return [tooCostly];
          if (!subscriptions.acquire(key)) return [new GraphQLError(`${key} already holds ${subscriptions.limit} subscriptions (WS_MAX_SUBSCRIPTIONS_PER_CLIENT)`, { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } })];
          (ctx.extra.subscriptions ??= new Set()).add(id);
        } else {
          // A query or mutation has the same time budget as over HTTP.
          (contextValue as RequestContext).signal = deadline(doors.config.requestTimeoutMs);
        }
        const args: Args = {
          schema: enveloped.schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue,
          rootValue: { enveloped },
        };
        return args;
      },
      onComplete: (ctx, id) => {
        if (ctx.extra.subscriptions?.delete(id)) subscriptions.release(ctx.extra.holder ?? 'unknown');
      },
      onClose: (ctx) => {
        clearTimeout(ctx.extra.expiry);
        for (const _ of ctx.extra.subscriptions ?? []) subscriptions.release(ctx.extra.holder ?? 'unknown');
        ctx.extra.subscriptions?.clear();
        if (ctx.extra.holder) connections.release(ctx.extra.holder);
        ctx.extra.holder = undefined;
      },
      onError: (_ctx, _id, _payload, errors) => {
        log.debug({ errors: errors.map((e) => e.message) }, 'websocket operation failed');
      },
    },
    wss,
  );
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.close(1001, 'server shutting down');
        wss.close(() => resolve());
      }),
  };
}
