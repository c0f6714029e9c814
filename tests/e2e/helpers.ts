/**
 * End-to-end helpers: build the extension (a real `wxt build` child process), launch Debian Chromium with
 * it loaded (playwright-core, headless), and serve a local test page.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type BrowserContext, type Locator, type Page, type Worker } from 'playwright-core';
import { expect } from 'vitest';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, 'test-results/screenshots');

/**
 * Runs `wxt build` with NODE_ENV=production (under Vitest's NODE_ENV=test a React build emits jsxDEV calls
 * against React's production runtime and the UI never mounts). Returns the unpacked extension directory.
 */
export async function buildExtension(env: Record<string, string>, outRoot: string): Promise<string> {
  const wxt = join(ROOT, 'node_modules/wxt/bin/wxt.mjs');
  const output: string[] = [];
  const code = await new Promise<number | null>((done, fail) => {
    const child = spawn(process.execPath, [wxt, 'build'], {
      cwd: ROOT,
      env: { ...process.env, ...env, NODE_ENV: 'production', REDRAFT_OUT_DIR: outRoot, CI: '1', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    child.on('error', fail);
    child.on('exit', done);
  });
  const dir = join(outRoot, 'chrome-mv3');
  if (code !== 0 || !existsSync(join(dir, 'manifest.json')))
    throw new Error(`wxt build failed (exit ${code}):\n${output.join('')}`);
  return dir;
}

/** Raw and gzipped sizes of the built bundles (reported, not asserted). */
export function bundleSizes(dir: string): Record<string, { raw: number; gzip: number }> {
  const out: Record<string, { raw: number; gzip: number }> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(js|css|html)$/.test(name)) {
        const buf = readFileSync(p);
        out[p.slice(dir.length + 1)] = { raw: buf.length, gzip: gzipSync(buf, { level: 9 }).length };
      }
    }
  };
  walk(dir);
  return out;
}

export interface LoadedExtension {
  context: BrowserContext;
  worker: Worker;
  id: string;
  close(): Promise<void>;
}

export async function launchWithExtension(extensionDir: string): Promise<LoadedExtension> {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM}. Install it: sudo apt-get install -y chromium`);
  const profile = mkdtempSync(join(tmpdir(), 'redraft-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1100, height: 760 },
    args: [
      `--disable-extensions-except=${extensionDir}`,
      `--load-extension=${extensionDir}`,
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const worker =
    context.serviceWorkers().find((w) => w.url().startsWith('chrome-extension://')) ??
    (await context.waitForEvent('serviceworker', { timeout: 15_000 }));
  const id = new URL(worker.url()).host;
  return {
    context,
    worker,
    id,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface TestSite {
  url: string;
  close(): Promise<void>;
}

/** A page with a textarea, a contenteditable and plain text, plus hostile CSS to prove style isolation. */
export const TEST_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Redraft test page</title>
<style>
  /* Hostile page styles: none of this may reach the extension's toolbar or panel. */
  * { font-family: "Courier New", monospace !important; letter-spacing: 1px; }
  button { background: rgb(0, 255, 0) !important; border: 4px dashed red !important; font-size: 30px !important; }
  div { color: rgb(255, 0, 255); }
  body { margin: 24px; }
  textarea, #ce { display: block; width: 560px; margin: 12px 0; padding: 6px; font-size: 15px; }
  #ce { border: 1px solid #999; min-height: 60px; }
</style></head>
<body>
  <h1>Spring collection</h1>
  <p id="plain">Our summer sale starts Friday with thirty percent off every pair of running shoes.</p>
  <textarea id="ta" rows="4">Our shoes are good and you should buy them.
Keep this second line exactly as it is.</textarea>
  <input id="title" type="text" value="A short product title for the store" style="width:560px">
  <div id="ce" contenteditable="true"><p>This bag is nice and it has many pockets.</p><p>The second paragraph stays.</p></div>
  <div id="dark" contenteditable="true" style="background:#18181b;color:#f4f4f5;padding:8px;width:560px">Night mode notes stay readable here.</div>
  <script>
    // A page's own Esc handler (a modal composer would close on it): Redraft's Esc must not reach it.
    window.__escapes = 0;
    document.addEventListener('keydown', (e) => { if (e.key === 'Escape') window.__escapes++; });
    window.__events = [];
    for (const type of ['beforeinput', 'input']) {
      document.addEventListener(type, (e) => window.__events.push({ id: e.target.id || e.target.closest('[id]')?.id, type, inputType: e.inputType }), true);
    }
  </script>
</body></html>`;

export async function serveTestSite(html = TEST_PAGE): Promise<TestSite> {
  const server: Server = createServer((req, res) => {
    if (req.url === '/favicon.ico') return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(html);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return join(SCREENSHOTS, `${name}.png`);
}

/** Default bound for waiting on the UI (a wait-for, never a fixed sleep). */
export const WAIT = { timeout: 15_000 };

/** The content script's toolbar and panel (shadow-root UI; Playwright's CSS locators pierce open shadow roots). */
export const ui = (p: Page) => ({
  /** The small Redraft button a passive selection shows; it opens the toolbar. */
  button: p.locator('[data-redraft="button"]'),
  toolbar: p.locator('[data-redraft="toolbar"]'),
  estimate: p.locator('[data-redraft="estimate"]'),
  panel: p.locator('[data-redraft="panel"]'),
  result: p.locator('[data-redraft="result"]'),
  error: p.locator('[data-redraft="error"]'),
  note: p.locator('[data-redraft="note"]'),
  status: p.locator('[data-redraft="status"]'),
  action: (a: string) => p.locator(`[data-redraft="toolbar"] [data-action="${a}"]`),
  cmd: (c: string) => p.locator(`[data-redraft="panel"] [data-cmd="${c}"]`),
  /** After Replace / Insert below: the small "Replaced · Undo" chip by the text (`data-how`: the strategy the field took). */
  chip: p.locator('[data-redraft="chip"]'),
  chipLabel: p.locator('[data-redraft="chip-label"]'),
  chipCmd: (c: string) => p.locator(`[data-redraft="chip"] [data-cmd="${c}"]`),
  counter: p.locator('[data-redraft="counter"]'),
});

/** After a selection: the small Redraft button appears beside it; clicking it opens the toolbar. */
export async function openToolbar(p: Page) {
  const u = ui(p);
  await u.button.waitFor({ state: 'visible', ...WAIT });
  await u.button.click();
  await u.toolbar.waitFor({ state: 'visible', ...WAIT });
}

/** Shows Redraft on plain page text too (off by default), as the options page does. */
export async function showOnPageText(ext: LoadedExtension, on = true) {
  await ext.worker.evaluate(async (pageText) => {
    const c = (globalThis as unknown as { chrome: { storage: { local: { set(v: object): Promise<void> } } } }).chrome;
    await c.storage.local.set({ 'redraft:settings': { pageText, disabledSites: [] } });
  }, on);
}

/** Waits until the panel finished (Done/Stopped) and returns the streamed text. */
export async function finished(p: Page): Promise<string> {
  await ui(p)
    .cmd('stop')
    .waitFor({ state: 'hidden', ...WAIT });
  return (await ui(p).result.textContent()) ?? '';
}

/** Select the first line of a textarea/contenteditable with the keyboard, as a user would. */
export async function selectFirstLine(p: Page, field: Locator) {
  await field.click({ position: { x: 5, y: 5 } });
  await p.keyboard.press('Control+Home');
  await p.keyboard.press('Shift+End');
}

/** After a (re)load the content script arrives at document_idle: select in the textarea until its button answers, then dismiss it. */
export async function contentScriptReady(p: Page) {
  await expect
    .poll(async () => {
      await selectFirstLine(p, p.locator('#ta'));
      return ui(p).button.isVisible();
    }, WAIT)
    .toBe(true);
  // Esc until the button is gone: under a loaded CI machine a first Esc right after the reload has been seen
  // not to close it (not reproduced alone; noted in the issue).
  await expect
    .poll(async () => {
      await p.keyboard.press('Escape');
      return ui(p).button.isHidden();
    }, WAIT)
    .toBe(true);
}

/** The popup, opened as a page of its own at the size of the toolbar popup. */
export async function openPopup(ext: LoadedExtension): Promise<Page> {
  const p = await ext.context.newPage();
  await p.setViewportSize({ width: 380, height: 640 });
  await p.goto(`chrome-extension://${ext.id}/popup.html`);
  return p;
}

/** "1,234" → 1234 (the popup's formatted numbers). */
export const num = (text: string | null) => Number((text ?? '').replace(/,/g, ''));

/** axe-core on Redraft's own UI (its shadow root) in the page: the serious and critical violations, if any. */
export async function axeOnRedraft(
  p: Page,
): Promise<{ id: string; impact: string | null | undefined; help: string; nodes: string[] }[]> {
  await p.addScriptTag({ path: join(ROOT, 'node_modules/axe-core/axe.min.js') });
  return p.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run(
            ctx: unknown,
            opts: unknown,
          ): Promise<{
            violations: { id: string; impact?: string | null; help: string; nodes: { target: unknown }[] }[];
          }>;
        };
      }
    ).axe;
    const r = await axe.run(
      { include: [['redraft-selection', '[data-redraft="root"]']] },
      { resultTypes: ['violations'] },
    );
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => JSON.stringify(n.target)) }));
  });
}

/** What the shortcut (every frame: `frameId` omitted, scope `focused`) or the context menu (its frame) sends to the tab at `url`. */
export async function sendOpenToolbar(ext: LoadedExtension, url: string, scope: 'focused' | 'frame', frameId?: number) {
  await ext.worker.evaluate(
    async ({ url, scope, frameId }) => {
      type Tabs = {
        query(q: { url: string }): Promise<{ id?: number }[]>;
        sendMessage(tabId: number, msg: unknown, opts?: { frameId: number }): Promise<unknown>;
      };
      const tabs = (globalThis as unknown as { chrome: { tabs: Tabs } }).chrome.tabs;
      const [tab] = await tabs.query({ url: `${url}*` });
      const msg = { type: 'redraft/open-toolbar', scope };
      await (frameId === undefined ? tabs.sendMessage(tab!.id!, msg) : tabs.sendMessage(tab!.id!, msg, { frameId }));
    },
    { url, scope, frameId },
  );
}
