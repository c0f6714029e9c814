/**
 * Every Lua script of the project, by name, as Redis receives it — and a static check of what Upstash's
 * `allow-key-locking` flag demands: the flag is the first line, and every key a script touches comes from
 * KEYS (a local bound to `KEYS[i]`, or an alias of one, passed bare to redis.call), never built in Lua.
 */
import { SET_CAP } from '../../api/account/settings';
import { PUT } from '../../api/account/styles';
import { APPLY, LINK } from '../../api/billing/entitlements/entitlements.lua';
import { CLAIM, COMMIT, METER_ERROR, ROUTE } from '../../api/billing/reporting/reporter.lua';
import { RELEASE_LUA, RENEW_LUA } from '../../api/billing/reporting/schedule';
import { ENSURE, RELEASE, RESERVE, SETTLE } from '../../api/metering/quota.lua';
import { KEY_LOCKING_SHEBANG, luaSource, namedScriptBody } from '../../api/store/redis';

/** The modules (under api/) that hold Lua, and their scripts' full sources. */
export const SCRIPT_MODULES: Record<string, Record<string, string>> = {
  'api/metering/quota.lua.ts': Object.fromEntries(
    Object.entries({ RESERVE, SETTLE, RELEASE, ENSURE }).map(([n, s]) => [n, luaSource(namedScriptBody(s))]),
  ),
  'api/billing/reporting/reporter.lua.ts': Object.fromEntries(
    Object.entries({ CLAIM, ROUTE, COMMIT, METER_ERROR }).map(([n, s]) => [n, luaSource(namedScriptBody(s))]),
  ),
  'api/billing/entitlements/entitlements.lua.ts': Object.fromEntries(
    Object.entries({ APPLY, LINK }).map(([n, s]) => [n, luaSource(namedScriptBody(s))]),
  ),
  'api/account/settings.ts': { SET_CAP: luaSource(namedScriptBody(SET_CAP)) },
  'api/account/styles.ts': { PUT: luaSource(namedScriptBody(PUT)) },
  'api/billing/reporting/schedule.ts': { RENEW_LUA, RELEASE_LUA },
};

/** Redis commands the scripts may call, and which of their arguments are keys. */
const KEY_ARGS: Record<string, 'first' | 'all'> = {
  GET: 'first',
  SET: 'first',
  DEL: 'all',
  EXISTS: 'all',
  EXPIRE: 'first',
  PEXPIRE: 'first',
  HGET: 'first',
  HSET: 'first',
  HSETNX: 'first',
  HMGET: 'first',
  HDEL: 'first',
  HEXISTS: 'first',
  HLEN: 'first',
  HINCRBY: 'first',
  ZADD: 'first',
  ZREM: 'first',
  ZRANGEBYSCORE: 'first',
  XADD: 'first',
  XRANGE: 'first',
  RPUSH: 'first',
  LRANGE: 'first',
  LTRIM: 'first',
};

/** The Lua with comments removed and every string literal's content replaced by `_` (positions kept). */
function mask(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '-' && src[i + 1] === '-') {
      while (i < src.length && src[i] !== '\n') {
        out += ' ';
        i++;
      }
    } else if (c === "'" || c === '"') {
      out += c;
      i++;
      while (i < src.length && src[i] !== c) {
        if (src[i] === '\\') {
          out += '_';
          i++;
        }
        out += src[i] === '\n' ? '\n' : '_';
        i++;
      }
      out += c;
      i++;
    } else if (c === '[' && src[i + 1] === '[') {
      const end = src.indexOf(']]', i + 2);
      const stop = end === -1 ? src.length : end + 2;
      out += `[[${'_'.repeat(Math.max(0, stop - i - 4))}]]`;
      i = stop;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Splits `a, f(b, c), 'd'` at its top-level commas. */
function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(' || ch === '{' || ch === '[') depth++;
    if (ch === ')' || ch === '}' || ch === ']') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) parts.push(cur.trim());
  return parts;
}

/** What is wrong with one script's source (empty when nothing). */
export function keyLockingProblems(source: string): string[] {
  const problems: string[] = [];
  if (!source.startsWith(`${KEY_LOCKING_SHEBANG}\n`)) problems.push(`the first line is not "${KEY_LOCKING_SHEBANG}"`);
  const lua = source.startsWith('#!') ? source.slice(source.indexOf('\n') + 1) : source;
  const code = mask(lua);

  // Locals bound to KEYS[i], then locals bound to those (`local q = quotaKey`, `local r, x = requestKey, xKey`).
  const keyLocals = new Set<string>();
  for (const m of code.matchAll(/\blocal\s+([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=(?!=)([^\n]*)/g)) {
    const names = m[1]!.split(',').map((n) => n.trim());
    const values = splitTop(m[2]!);
    names.forEach((name, i) => {
      const v = values[i] ?? '';
      if (/^KEYS\[\d+\]$/.test(v) || keyLocals.has(v)) keyLocals.add(name);
    });
  }
  // KEYS read anywhere else (a loop over KEYS, KEYS[i] inline) is not checked here: refuse it.
  const keysReads = [...code.matchAll(/\bKEYS\b/g)].length;
  const keysInLocals = [...code.matchAll(/\blocal\s+[A-Za-z_]\w*\s*=\s*KEYS\[\d+\]/g)].length;
  if (keysReads !== keysInLocals) problems.push('KEYS is read outside `local <name> = KEYS[i]` lines');

  // A key local is assigned once (its definition): it never becomes anything else.
  const assigned = new Map<string, number>();
  for (const m of code.matchAll(/(?<![\w.])((?:[A-Za-z_]\w*)(?:\s*,\s*[A-Za-z_]\w*)*)\s*=(?!=)/g)) {
    for (const name of m[1]!.split(',').map((n) => n.trim())) assigned.set(name, (assigned.get(name) ?? 0) + 1);
  }
  for (const name of keyLocals) {
    if ((assigned.get(name) ?? 0) !== 1) problems.push(`key local "${name}" is assigned more than once`);
  }

  // Every redis.call / redis.pcall: a literal command name, and its key arguments bare key locals.
  for (const m of code.matchAll(/\bredis\.p?call\s*\(/g)) {
    let depth = 1;
    let j = m.index + m[0].length;
    const start = j;
    while (j < code.length && depth > 0) {
      if (code[j] === '(') depth++;
      if (code[j] === ')') depth--;
      j++;
    }
    const argsMasked = splitTop(code.slice(start, j - 1));
    const argsRaw = splitTop(lua.slice(start, j - 1));
    const name = /^'([A-Za-z]+)'$|^"([A-Za-z]+)"$/.exec(argsRaw[0] ?? '');
    const cmd = (name?.[1] ?? name?.[2] ?? '').toUpperCase();
    const where = `redis.call(${lua.slice(start, j - 1).slice(0, 60)})`;
    if (!cmd) {
      problems.push(`${where}: the command is not a literal`);
      continue;
    }
    const spec = KEY_ARGS[cmd];
    if (!spec) {
      problems.push(`${where}: ${cmd} is not in the list of known commands (add it with its key arguments)`);
      continue;
    }
    const keyArgs = spec === 'first' ? argsMasked.slice(1, 2) : argsMasked.slice(1);
    if (keyArgs.length === 0) problems.push(`${where}: no key argument`);
    for (const k of keyArgs) {
      if (!keyLocals.has(k)) problems.push(`${where}: key argument "${k}" is not a local bound to KEYS`);
    }
  }
  return problems;
}
