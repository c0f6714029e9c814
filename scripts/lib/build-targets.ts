/**
 * The deploy targets `npm run build` (scripts/build.ts) bundles, and the esbuild options they share: one
 * place, so a test can bundle exactly what ships (tests/unit/standins-isolation.test.ts).
 */
import type { BuildOptions } from 'esbuild';

export const common: BuildOptions = {
  bundle: true,
  format: 'esm',
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
};
// Node built-ins stay imports; CommonJS dependencies get a `require` that can load them.
const nodeBanner = {
  js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
};

export const targets: { name: string; out: string; options: BuildOptions }[] = [
  {
    name: 'node',
    out: 'dist/node/index.mjs',
    options: { entryPoints: ['api/runtimes/node.ts'], platform: 'node', target: 'node22', banner: nodeBanner },
  },
  {
    name: 'workers',
    out: 'dist/worker/index.js',
    // The Workers runtime with `nodejs_compat` provides node:* modules; everything else is bundled.
    options: {
      entryPoints: ['api/runtimes/worker.ts'],
      platform: 'browser',
      target: 'es2022',
      conditions: ['workerd', 'worker', 'browser'],
      external: ['node:*'],
    },
  },
  {
    name: 'vercel',
    out: '.vercel/output/functions/index.func/index.mjs',
    options: { entryPoints: ['api/runtimes/vercel.ts'], platform: 'node', target: 'node22', banner: nodeBanner },
  },
];
