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
import { isHubError, toGraphQLError, unauthenticated, type Logger, type RequestContext } from '@hub/runtime';
import { assertScope, CLIENT_HEADER, type Authenticator, type Identity } from './auth.ts';
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

/**
 * graphql-ws on the gateway's own port and path. Queries and mutations go through the same yoga pipeline as HTTP
 * (and so through the gateway); `Subscription.events` streams from the event log, each event resolved through
 * the gateway with the client's selection.
 */
export function attachSubscriptions(server: Server, yoga: YogaServerInstance<any, any>, events: EventStreamSource | undefined, log: Logger, auth: Authenticator) {
  const wss = new WebSocketServer({ server, path: '/graphql' });
  useServer<Record<string, unknown>, { request: IncomingMessage; socket: unknown; identity?: Identity }>(
    {
      // Credentials come with the upgrade request's headers, or (browsers cannot set those on a WebSocket) in the
      // connection_init payload: { "authorization": "Bearer ..." } or { "apiKey": "..." }. A refusal closes with 4403.
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const headers = ctx.extra.request.headers;
        try {
          ctx.extra.identity = await auth.authenticate({
            authorization: (typeof params.authorization === 'string' ? params.authorization : undefined) ?? headers.authorization,
            apiKey: (typeof params.apiKey === 'string' ? params.apiKey : undefined) ?? (headers['x-api-key'] as string | undefined),
            claimed: (headers[CLIENT_HEADER] as string | undefined) ?? ctx.extra.request.socket.remoteAddress,
          });
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
      onSubscribe: async (ctx, _id, payload) => {
        const enveloped = yoga.getEnveloped({ ...ctx, req: ctx.extra.request, socket: ctx.extra.socket, params: payload, identity: ctx.extra.identity });
        let document: DocumentNode;
        try {
          document = enveloped.parse(payload.query);
        } catch (err) {
          return [err instanceof GraphQLError ? err : new GraphQLError(String(err))];
        }
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length) return errors;
        const contextValue = await enveloped.contextFactory();
        const op = getOperationAST(document, payload.operationName);
        try {
          // Queries and mutations are checked again where they execute (useScopes); a subscription is checked here.
          if (op?.operation === 'subscription') assertScope(contextValue as never, 'subscription');
        } catch (err) {
          return [toGraphQLError(err)];
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
