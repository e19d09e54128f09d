import { randomBytes } from 'node:crypto';
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { HubConfig, Logger } from '@hub/runtime';
import { readPersistedOperations, useLimits, usePersistedDocuments } from './limits.ts';

export { upstreamFields } from './limits.ts';

/**
 * The hub's own fixed operations (the REST facade, the audit export) carry this header with this process's secret:
 * they run when only trusted documents are allowed. The HTTP server drops a caller's own value first.
 */
export const TRUSTED_DOCUMENT_HEADER = 'x-hub-trusted-document';
export const TRUSTED_DOCUMENT_TOKEN = randomBytes(24).toString('base64url');
const isTrusted = (request: Request) => request.headers.get(TRUSTED_DOCUMENT_HEADER) === TRUSTED_DOCUMENT_TOKEN;

const stores = new Map<string, Map<string, string>>();
/** The trusted documents of GRAPHQL_PERSISTED_OPERATIONS_FILE, read once per process (HTTP and graphql-ws share them). */
export function trustedDocuments(file: string): Map<string, string> {
  let s = stores.get(file);
  if (!s) stores.set(file, (s = readPersistedOperations(file)));
  return s;
}

/** Headers a browser cannot send cross-origin without a CORS preflight: any one of them passes the CSRF check. */
export const CSRF_HEADERS = ['x-graphql-yoga-csrf', 'apollo-require-preflight', 'x-apollo-operation-name', 'authorization', 'x-api-key'];

/**
 * yoga's CSRF prevention: a GET, or a POST with a form or text/plain body (what a page on another site can make a
 * browser send without asking), needs a header no simple request has. Its refusal gets the hub's code.
 */
function useCsrf(): Plugin {
  const inner = useCSRFPrevention({ requestHeaders: CSRF_HEADERS }) as Plugin & { onRequestParse: NonNullable<Plugin['onRequestParse']> };
  return {
    onRequestParse(payload) {
      try {
        return inner.onRequestParse(payload);
      } catch {
        throw createGraphQLError(`a GET or form-encoded GraphQL request needs one of these headers (CSRF prevention): ${CSRF_HEADERS.join(', ')}; or send Content-Type: application/json`, {
          extensions: { code: 'CSRF_PREVENTED', http: { status: 403 } },
        });
      }
    },
  };
}

/**
 * What the gateway's yoga runs before the gateway itself: CSRF prevention, trusted documents, the operation limits,
 * and (in production, unless GRAPHQL_INTROSPECTION=true) no introspection and no "did you mean" suggestions.
 */
export function gatewayGuards(config: HubConfig, log: Logger, upstream: () => ReadonlySet<string>): Plugin[] {
  const g = config.graphql;
  const plugins: Plugin[] = [useCsrf()];
  if (g.persistedOperations) plugins.push(usePersistedDocuments(trustedDocuments(g.persistedOperations.file), g.persistedOperations.required, isTrusted, log));
  plugins.push(useLimits({ settings: g, upstream, trusted: isTrusted }));
  if (!g.introspection) plugins.push(useDisableIntrospection() as Plugin, blockFieldSuggestionsPlugin({ mask: '' }) as Plugin);
  return plugins;
}
