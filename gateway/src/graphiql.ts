import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphiQLOptions } from 'graphql-yoga';

/**
 * GraphiQL served by the hub itself. Yoga's default page loads GraphiQL from a public CDN, which care-home and
 * hospital networks often cannot reach (the page then says "Loading…" for ever). The same GraphiQL build ships in
 * @graphql-yoga/render-graphiql; the gateway serves its parts (script, styles, the editor's web workers, the icon)
 * under /graphql/assets/ and the page loads nothing from anywhere else. The page has no inline script either, so a
 * Content-Security-Policy of `script-src 'self'` holds.
 */
export const GRAPHIQL_ASSETS_PATH = '/graphql/assets/';

type Bundle = typeof import('@graphql-yoga/render-graphiql/graphiql');

interface Asset {
  type: string;
  body: Buffer;
  etag: string;
}

// Set before GraphiQL's script runs: Monaco asks it for its workers' URLs, which are the hub's too.
const ENV_JS = `self.MonacoEnvironment = {
  globalAPI: false,
  getWorkerUrl: function (moduleId, label) {
    return '${GRAPHIQL_ASSETS_PATH}' + (label === 'json' ? 'json' : label === 'graphql' ? 'graphql' : 'editor') + '.worker.js';
  },
};
`;
const START_JS = `YogaGraphiQL.renderYogaGraphiQL(document.querySelector('#root'), JSON.parse(document.getElementById('graphiql-options').textContent));
`;

let assets: Promise<Map<string, Asset>> | undefined;

/** The 9 MB bundle is read on the first request for it, not at start: most processes never serve GraphiQL. */
function load(): Promise<Map<string, Asset>> {
  assets ??= import('@graphql-yoga/render-graphiql/graphiql').then((b: Bundle) => {
    const js = 'text/javascript; charset=utf-8';
    const parts: Record<string, [string, string | Buffer]> = {
      'graphiql.js': [js, b.js],
      'graphiql.css': ['text/css; charset=utf-8', b.css],
      'editor.worker.js': [js, b.editorWorkerService],
      'json.worker.js': [js, b.jsonWorker],
      'graphql.worker.js': [js, b.graphqlWorker],
      'env.js': [js, ENV_JS],
      'start.js': [js, START_JS],
      'favicon.ico': ['image/x-icon', Buffer.from(b.favicon.slice(b.favicon.indexOf(',') + 1), 'base64')],
    };
    const map = new Map<string, Asset>();
    for (const [name, [type, content]] of Object.entries(parts)) {
      const body = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
      map.set(name, { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
    }
    return map;
  });
  return assets;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Yoga's `renderGraphiQL`: the page, pointing at the hub's own copies of GraphiQL's parts. */
export function renderGraphiQL(opts: GraphiQLOptions): string {
  const a = GRAPHIQL_ASSETS_PATH;
  // JSON inside a script element: `<` escaped so that no value can close the element.
  const options = JSON.stringify(opts ?? {}).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(opts?.title || 'GraphiQL')}</title>
    <link rel="icon" href="${a}favicon.ico" />
    <link rel="stylesheet" href="${a}graphiql.css" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run GraphiQL.</noscript>
    <div id="root"></div>
    <script type="application/json" id="graphiql-options">${options}</script>
    <script src="${a}env.js"></script>
    <script src="${a}graphiql.js"></script>
    <script src="${a}start.js"></script>
  </body>
</html>
`;
}

/** Serves GET/HEAD /graphql/assets/<name>; answers 404 for any other name under it. */
export async function serveGraphiqlAsset(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const asset = (await load()).get(path.slice(GRAPHIQL_ASSETS_PATH.length));
  if (!asset || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(asset ? 405 : 404, { 'content-type': 'application/json', ...(asset ? { allow: 'GET, HEAD' } : {}) });
    res.end(JSON.stringify({ error: { code: asset ? 'BAD_USER_INPUT' : 'NOT_FOUND', message: asset ? 'GraphiQL assets are read with GET' : `no GraphiQL asset ${path}` } }));
    return;
  }
  const headers = { 'content-type': asset.type, etag: asset.etag, 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': String(asset.body.length) });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}
