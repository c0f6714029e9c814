/**
 * The module boundaries: the extension is built from extension/ and shared/ only, so it never bundles a
 * server module; shared/ depends on nothing of the API or the extension.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const SOURCE = /\.(ts|tsx|mts|js|mjs)$/;
const SKIP = new Set(['node_modules', '.output', '.wxt', 'dist']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (SKIP.has(e.name)) return [];
    const p = join(dir, e.name);
    return e.isDirectory() ? sources(p) : SOURCE.test(e.name) ? [p] : [];
  });
}

/** Every relative module a file imports or re-exports (static and dynamic), resolved from the repository root. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
  return specs.filter((s) => s.startsWith('.')).map((s) => relative(root, resolve(dirname(file), s)));
}

function crossings(folder: string, forbidden: string[]): string[] {
  return sources(join(root, folder)).flatMap((f) =>
    importsOf(f)
      .filter((target) => forbidden.some((top) => target === top || target.startsWith(`${top}/`)))
      .map((target) => `${relative(root, f)} imports ${target}`),
  );
}

describe('module boundaries', () => {
  it('nothing under extension/ imports from api/', () => {
    expect(crossings('extension', ['api'])).toEqual([]);
  });

  it('shared/ imports nothing from api/ or extension/', () => {
    expect(crossings('shared', ['api', 'extension'])).toEqual([]);
  });

  it('sees the imports it checks (a file of extension/ that imports shared/)', () => {
    expect(importsOf(join(root, 'extension/lib/estimate.ts'))).toContain('shared/prompts');
  });
});
