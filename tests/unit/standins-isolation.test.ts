/**
 * The stand-ins (standins/: redis-server launcher, Upstash bridge, model, Stripe) and the test helpers
 * (tests/) are for dev, tests and benchmarks only: no production source imports them, and none of their code
 * is in the bundles `npm run build` ships. The bundles are built here in memory with the very targets and
 * options of scripts/build.ts (esbuild, about a second), so this does not depend on, or race with, another
 * test's `dist/`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { build, type BuildResult } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { common, targets } from '../../scripts/lib/build-targets';

const ROOT = resolve(import.meta.dirname, '../..');
const PRODUCTION = ['api', 'extension', 'shared'];
const FORBIDDEN = ['standins', 'tests'];

/** Strings only a stand-in has (checked below to be in its sources, so they stay meaningful). */
const MARKERS: Record<string, string[]> = {
  'standins/stripe': ['a local test double, not Stripe', 'bpc_default_standin', 'stand-in fault'],
  'standins/model': ['fp_stand_in', 'The stand-in model server was told to fail', 'Stand-in model server error'],
  'standins/redis': ['redraft-redis-', 'did not start on port'],
  'standins/upstash-bridge': ['ERR bridge: ', 'ERR body must be a non-empty array of commands'],
};

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && ext.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

/** Module specifiers of static imports and re-exports, side-effect imports, `import()` and `require()`. */
function specifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
    /\brequire\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) found.push(m[1]!);
  return found;
}

/** Where a specifier from `file` points inside the repository, when it is a path, or a WXT alias for one. */
function target(file: string, spec: string): string | undefined {
  if (spec.startsWith('.')) return relative(ROOT, resolve(dirname(file), spec));
  if (spec.startsWith('/')) return relative(ROOT, spec);
  // WXT's aliases: `~~/` and `@@/` are the project root, `~/` and `@/` its srcDir (extension/).
  if (/^(~~|@@)\//.test(spec)) return spec.slice(3);
  if (/^[~@]\//.test(spec)) return `extension/${spec.slice(2)}`;
  // A bare specifier naming a top-level folder (resolved from the root, as a `paths` alias would).
  return FORBIDDEN.some((f) => spec === f || spec.startsWith(`${f}/`)) ? spec : undefined;
}

const forbidden = (path: string | undefined) =>
  path !== undefined && FORBIDDEN.some((f) => path === f || path.startsWith(`${f}/`));

describe('stand-ins stay out of production', () => {
  it('the import scan sees what it looks for', () => {
    const sample = [
      "import { startStripeServer } from '../../standins/stripe';",
      "export { x } from '../../tests/support/stack';",
      "import type { A } from 'standins/model';",
      "import { B } from '~~/tests/support/infra';",
      "const m = await import('../../standins/redis');",
      "require('../../tests/support/heap-probe.cjs');",
      "import './side-effect';",
    ].join('\n');
    const hits = specifiers(sample).map((s) => target(join(ROOT, 'api/billing/x.ts'), s));
    expect(hits.filter(forbidden)).toEqual([
      'standins/stripe',
      'tests/support/stack',
      'standins/model',
      'tests/support/infra',
      'standins/redis',
      'tests/support/heap-probe.cjs',
    ]);
    expect(hits).toContain('api/billing/side-effect');
    expect(forbidden(target(join(ROOT, 'api/x.ts'), '../standins-like/x'))).toBe(false);
    expect(forbidden(target(join(ROOT, 'extension/x.ts'), '@/tests/x'))).toBe(false); // extension/tests/x
  });

  it('no source in api/, extension/ or shared/ imports standins/ or tests/ (their own *.test.ts apart)', () => {
    const sources = PRODUCTION.flatMap((d) => files(join(ROOT, d), /\.(ts|tsx|js|mjs|cjs)$/)).filter(
      (f) => !/\.test\.tsx?$/.test(f),
    );
    expect(sources.length).toBeGreaterThan(50);
    let imports = 0;
    const offenders: string[] = [];
    for (const file of sources) {
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        imports++;
        if (forbidden(target(file, spec))) offenders.push(`${relative(ROOT, file)} imports ${spec}`);
      }
    }
    expect(imports).toBeGreaterThan(200);
    expect(offenders).toEqual([]);
  });

  it('each stand-in has the marker strings the bundle check looks for', () => {
    for (const [dir, markers] of Object.entries(MARKERS)) {
      const text = files(join(ROOT, dir), /\.ts$/)
        .map((f) => readFileSync(f, 'utf8'))
        .join('\n');
      for (const marker of markers) expect(text, `${marker} in ${dir}`).toContain(marker);
    }
  });

  // The three bundles, built side by side (esbuild works in parallel): about a second in all. As shipped, but
  // in memory and without source maps.
  const bundles = new Map<string, Promise<BuildResult<{ write: false; metafile: true }>>>();
  beforeAll(() => {
    for (const t of targets) {
      const inMemory = { absWorkingDir: ROOT, outfile: join(ROOT, t.out), write: false, metafile: true } as const;
      const built = build({ ...common, ...t.options, ...inMemory, sourcemap: false });
      built.catch(() => {}); // awaited (and reported) by its test
      bundles.set(t.name, built);
    }
  });

  const names = targets.map((t) => t.name);
  it.each(names)('the %s bundle has no stand-in or test module, nor their strings', async (name) => {
    const result = await bundles.get(name)!;
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((i) => i.startsWith('api/'))).toBe(true);
    expect(inputs.filter((i) => forbidden(i))).toEqual([]);
    const code = result.outputFiles.map((f) => f.text).join('\n');
    const found = Object.entries(MARKERS).flatMap(([dir, markers]) =>
      markers.filter((m) => code.includes(m)).map((m) => `${dir}: ${m}`),
    );
    expect(found).toEqual([]);
  });
});
