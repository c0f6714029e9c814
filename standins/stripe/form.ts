/** Form decoding: the SDK sends v1 bodies and queries as `a[b][0][c]=v`. */
import type { Obj } from './types';

/** Decode an application/x-www-form-urlencoded string with bracket nesting into objects and arrays. */
export function parseForm(text: string): Obj {
  const root: Obj = {};
  if (!text) return root;
  for (const pair of text.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const rawKey = decodeURIComponent((eq === -1 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
    const value = eq === -1 ? '' : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
    const path = rawKey.match(/^[^[]+|\[[^\]]*\]/g)?.map((p) => (p.startsWith('[') ? p.slice(1, -1) : p)) ?? [rawKey];
    let node: Obj = root;
    for (let i = 0; i < path.length; i++) {
      const k = path[i] === '' ? String(Object.keys(node).length) : path[i]!;
      if (i === path.length - 1) node[k] = value;
      else node = (node[k] ??= {}) as Obj;
    }
  }
  return arrays(root) as Obj;
}

/** Objects whose keys are 0..n-1 become arrays. */
function arrays(v: unknown): unknown {
  if (!v || typeof v !== 'object') return v;
  const o = v as Obj;
  const ks = Object.keys(o);
  for (const k of ks) o[k] = arrays(o[k]);
  if (ks.length > 0 && ks.every((k, i) => String(i) === k)) return ks.map((k) => o[k]);
  return o;
}
