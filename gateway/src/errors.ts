import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isHubError, toGraphQLError, type Logger } from '@hub/runtime';

/** graphql-js's own request errors get the codes that clients of Apollo servers already know. */
function withRequestCode(err: GraphQLError): GraphQLError {
  if (err.extensions?.code) return err;
  const code = /^Syntax Error/.test(err.message) ? 'GRAPHQL_PARSE_FAILED' : /^Variable "/.test(err.message) ? 'BAD_USER_INPUT' : 'GRAPHQL_VALIDATION_FAILED';
  return new GraphQLError(err.message, { nodes: err.nodes, source: err.source, positions: err.positions, path: err.path, extensions: { ...err.extensions, code } });
}

/** An error graphql-js raised about the request itself (syntax, validation, variables), not a resolver's. */
function isRequestError(e: unknown): e is GraphQLError {
  if (!(e instanceof GraphQLError)) return false;
  const o = e.originalError;
  return !o || (o instanceof GraphQLError && !isHubError(o) && !o.extensions?.code);
}

/**
 * Errors from subgraphs already carry their code (the gateway passes them on as GraphQLErrors); what the gateway
 * or yoga throws itself goes through the hub's one error mapping, which hides internals.
 */
export function errorMasker(log: Logger) {
  return (err: unknown) => {
    if (isRequestError(err)) return withRequestCode(err);
    if (err instanceof GraphQLError && err.extensions?.code && !isHubError(err.originalError)) return err;
    const mapped = toGraphQLError(err);
    if (mapped.extensions.code === 'INTERNAL') log.error({ err }, 'request failed');
    return mapped;
  };
}

/** The gateway reports bad variables in its result rather than throwing; give those errors their code too. */
export function useErrorCodes(): Plugin {
  return {
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          if ('errors' in result && result.errors?.length && !('next' in result)) {
            setResult({ ...result, errors: result.errors.map((e) => (isRequestError(e) ? withRequestCode(e) : e)) });
          }
        },
      };
    },
  };
}
