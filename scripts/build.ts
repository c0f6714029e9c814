/**
 * `npm run build`: bundles the one Hono app for each deploy target, so none of them rots.
 *   dist/node/index.mjs                        Node (Docker, any VM): `node dist/node/index.mjs`
 *   dist/worker/index.js                       Cloudflare Workers (deploy/wrangler.toml)
 *   .vercel/output/functions/index.func/       Vercel Build Output API (`vercel deploy --prebuilt`)
 * Prints each bundle's size, raw and gzipped.
 */
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { gzipSync } from 'node:zlib';
import { common, targets } from './lib/build-targets';

/**
 * The usage reporter on Vercel Cron (it calls each path with GET and `Authorization: Bearer $CRON_SECRET`):
 * a full pass hourly, and the period-end pass every 5 minutes so a period's last usage reaches Stripe
 * well before its invoice finalises (about an hour after the period ends). Per-minute crons need a
 * Vercel Pro plan; on Hobby keep only a daily full pass and run `npm run report-usage` elsewhere.
 */
export const VERCEL_CRONS = [
  { path: '/internal/report-usage', schedule: '0 * * * *' },
  { path: '/internal/report-usage?mode=due', schedule: '*/5 * * * *' },
];

rmSync('dist', { recursive: true, force: true });
rmSync('.vercel/output', { recursive: true, force: true });
const rows: string[] = [];
for (const t of targets) {
  mkdirSync(dirname(t.out), { recursive: true });
  await build({ ...common, ...t.options, outfile: t.out });
  const code = readFileSync(t.out);
  rows.push(
    `${t.name.padEnd(8)} ${t.out.padEnd(48)} ${(code.length / 1024).toFixed(0).padStart(6)} KB raw  ${(gzipSync(code).length / 1024).toFixed(0).padStart(5)} KB gzipped`,
  );
}

writeFileSync(
  '.vercel/output/functions/index.func/.vc-config.json',
  JSON.stringify(
    {
      runtime: 'nodejs22.x',
      handler: 'index.mjs',
      launcherType: 'Nodejs',
      supportsResponseStreaming: true,
      maxDuration: 300,
    },
    null,
    2,
  ),
);
writeFileSync('.vercel/output/functions/index.func/package.json', JSON.stringify({ type: 'module' }));
writeFileSync(
  '.vercel/output/config.json',
  JSON.stringify({ version: 3, routes: [{ src: '/(.*)', dest: '/index' }], crons: VERCEL_CRONS }, null, 2),
);

console.log(rows.join('\n'));
