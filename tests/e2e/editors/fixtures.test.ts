/**
 * Sanity check of the real-editor pages, WITHOUT the extension: for every case the page loads clean, the
 * editor's own model holds the initial text, a selection made by `selectText` is where the editor believes it
 * is (typing replaces exactly it, in the model), the change listener enabled `#post`, and the page's own undo
 * brings the text back. One Chromium, pages built once into test-results/editor-pages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, ROOT } from '../helpers';
import { buildEditorPages } from './build';
import { serveEditorSite, type EditorSite } from './server';
import {
  changes,
  EDITOR_CASES,
  FIRST,
  initialText,
  modelText,
  postButton,
  selectText,
  undoUntil,
  waitReady,
  type EditorCase,
} from './fixtures';

const OUT = join(ROOT, 'test-results/editor-pages');
const MIDDLE = 'The middle sentence is plain and dull.';
const TYPED = 'Our shoes are good. Hello The last sentence stays.';

let browser: Browser;
let context: BrowserContext;
let site: EditorSite;

beforeAll(async () => {
  const started = performance.now();
  await buildEditorPages(OUT);
  console.log(`editor pages built in ${Math.round(performance.now() - started)} ms`);
  site = await serveEditorSite(OUT);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
});

afterAll(async () => {
  await browser?.close();
  await site?.close();
});

/** Console errors, page errors and failed requests from every frame of the page. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`requestfailed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return errors;
}

const afterTyping = (c: EditorCase) => (c.kind === 'input' ? TYPED : `${FIRST}\n${TYPED}`);

for (const c of EDITOR_CASES) {
  describe(c.id, () => {
    it(`${c.id}: loads clean, typing over a selectText selection replaces it in the model, undo restores`, async () => {
      const page = await context.newPage();
      const errors = watchErrors(page);
      try {
        await page.goto(new URL(c.path, site.url).href);
        await waitReady(page, c);
        expect(await modelText(page, c)).toBe(initialText(c));
        expect(await changes(page, c)).toBe(0);
        await expect((await postButton(page, c)).isDisabled()).resolves.toBe(true);

        await selectText(page, c, MIDDLE);
        await page.keyboard.type('Hello');
        await expect.poll(() => modelText(page, c), { timeout: 5_000 }).toBe(afterTyping(c));
        expect(await changes(page, c)).toBeGreaterThan(0);
        await expect((await postButton(page, c)).isEnabled()).resolves.toBe(true);

        await undoUntil(page, c, initialText(c));
        expect(await modelText(page, c)).toBe(initialText(c));
        expect(errors).toEqual([]);
      } finally {
        await page.close();
      }
    });
  });
}
