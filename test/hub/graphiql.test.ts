/**
 * GraphiQL from the hub itself: Debian's Chromium, driven by playwright-core, opens /graphql with every request to
 * anywhere but the hub refused, types a query, runs it and sees the hub's answer. Yoga's default page loads
 * GraphiQL from a CDN: with no network beyond the hub it never gets past "Loading".
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateMappingDocument } from '../generated/graphql.ts';
import { startTestHub, type TestHub } from '../support/hub.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let hub: TestHub;
let browser: Browser;
beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  hub = await startTestHub();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});
afterAll(async () => {
  await browser?.close();
  await hub?.close();
});

describe('GraphiQL', () => {
  it('loads from the hub alone, runs a typed query and shows the answer', { timeout: 120_000 }, async () => {
    const name = `graphiql-${Math.random().toString(36).slice(2, 8)}`;
    await hub.ok(CreateMappingDocument, { input: { name, sourceFormat: 'JSON', targetFormat: 'JSON', rules: { fields: { a: { path: 'a' } } } } });

    const page = await browser.newPage();
    const hubOrigin = new URL(hub.url).origin;
    const elsewhere: string[] = [];
    const fromHub: string[] = [];
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('blob:') || url.startsWith('data:')) return route.continue();
      if (new URL(url).origin === hubOrigin) {
        fromHub.push(new URL(url).pathname);
        return route.continue();
      }
      elsewhere.push(url);
      return route.abort('blockedbyclient');
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    await page.goto(`${hub.url}/graphql`);
    const editor = page.locator('.graphiql-query-editor .monaco-editor').first();
    await editor.waitFor({ state: 'visible', timeout: 60_000 });
    await editor.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    // insertText: as pasted, so the editor's bracket completion adds nothing.
    await page.keyboard.insertText(`query FromTheBrowser { mappings { name } }`);
    await page.locator('.graphiql-execute-button').first().click();

    const response = page.locator('.graphiql-response');
    await expect.poll(async () => (await response.textContent())?.replace(/\s+/g, ' ') ?? '', { timeout: 30_000 }).toContain(name);
    expect((await response.textContent())?.replace(/\s+/g, ' ')).toMatch(/"mappings":/);

    expect(elsewhere).toEqual([]);
    expect(fromHub).toEqual(expect.arrayContaining(['/graphql', '/graphql/assets/graphiql.js', '/graphql/assets/graphiql.css']));
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it('serves its assets with their types, and nothing else under the path', async () => {
    const js = await fetch(`${hub.url}/graphql/assets/graphiql.js`, { method: 'HEAD' });
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    const etag = js.headers.get('etag')!;
    expect((await fetch(`${hub.url}/graphql/assets/graphiql.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await fetch(`${hub.url}/graphql/assets/../../healthz`)).status).not.toBe(500);
    expect((await fetch(`${hub.url}/graphql/assets/nope.js`)).status).toBe(404);
    const page = await (await fetch(`${hub.url}/graphql`, { headers: { accept: 'text/html' } })).text();
    expect(page).not.toMatch(/unpkg|jsdelivr|cdn\./);
    expect(page).not.toMatch(/<script>(?!<\/script>)/); // no inline script
  });
});
