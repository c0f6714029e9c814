/**
 * `npm test`: every test (unit, real redis-server, real Chromium), then one closing line
 * "N passed, N failed" read from vitest's JSON report. Missing system dependencies fail loudly
 * with the command that installs them; nothing is skipped silently.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';

// System binaries the tests need: redis-server (integration) and Chromium (extension end to end;
// CHROMIUM_PATH may point at another Chromium build, the default is Debian's /usr/bin/chromium).
const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const missing = ['redis-server'].filter((bin) => !has(bin));
if (process.env.CHROMIUM_PATH ? !existsSync(process.env.CHROMIUM_PATH) : !existsSync('/usr/bin/chromium'))
  missing.push('chromium');
if (missing.length > 0) {
  console.error(
    `Missing: ${missing.join(', ')}. Install with: sudo apt-get install -y ${missing.join(' ')}  (or run: bash scripts/run.sh test)`,
  );
  console.log('0 passed, 1 failed');
  process.exit(1);
}

mkdirSync('test-results', { recursive: true });
const report = 'test-results/vitest.json';
const run = spawnSync(
  'npx',
  ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const json = JSON.parse(readFileSync(report, 'utf8')) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
    testResults: { status: string; assertionResults: { status: string }[] }[];
  };
  // A file that failed to load or whose hooks failed has no failed test of its own: count it once.
  const brokenFiles = json.testResults.filter(
    (f) => f.status === 'failed' && !f.assertionResults.some((a) => a.status === 'failed'),
  ).length;
  passed = json.numPassedTests;
  failed = json.numFailedTests + brokenFiles;
  skipped = json.numPendingTests + json.numTodoTests;
} catch {
  failed = Math.max(1, failed);
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(run.status === 0 && failed === 0 && passed > 0 ? 0 : 1);
