/**
 * `npm run screenshots`: the README's pictures of the main states, light and dark, taken by the end-to-end
 * run (tests/e2e write every state to test-results/screenshots/). Runs the extension and popup suites, then
 * copies the chosen states to docs/screenshots/, the only place the README points at.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const FROM = 'test-results/screenshots';
const TO = 'docs/screenshots';
/** e2e file name → README name. */
const CHOSEN: Record<string, string> = {
  '10-button-in-field': 'button-in-field',
  '1-toolbar-textarea': 'toolbar-light',
  '12-toolbar-dark-scheme': 'toolbar-dark',
  '3-panel-streaming': 'panel-streaming',
  '11-panel-versions': 'panel-versions',
  '13-panel-on-dark-page': 'panel-dark-page',
  '5-replaced-textarea': 'replaced-chip',
  '9-toolbar-quota-exhausted': 'toolbar-no-tokens',
  'popup-pro-overage-light': 'popup-pro-light',
  'popup-pro-overage-dark': 'popup-pro-dark',
};

if (!process.argv.includes('--copy-only')) {
  const run = spawnSync('npx', ['vitest', 'run', 'tests/e2e/extension.test.ts', 'tests/e2e/popup.test.ts'], {
    stdio: 'inherit',
  });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
mkdirSync(TO, { recursive: true });
for (const [from, to] of Object.entries(CHOSEN)) {
  const src = join(FROM, `${from}.png`);
  if (!existsSync(src)) throw new Error(`${src} was not written by the e2e run`);
  copyFileSync(src, join(TO, `${to}.png`));
}
console.log(`${Object.keys(CHOSEN).length} screenshots in ${TO}/`);
