/**
 * Upstash's `allow-key-locking` flag on every project script, and what it demands: every key a script touches
 * is in KEYS. Static checks over the scripts' sources (tests/support/lua-scripts.ts); the bridge's handling of
 * the flag for a local Redis is tested in tests/integration/lua-scripts.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KEY_LOCKING_SHEBANG, luaSource } from '../../api/store/redis';
import { stripShebang } from '../../standins/upstash-bridge';
import { keyLockingProblems, SCRIPT_MODULES } from '../support/lua-scripts';

const ROOT = resolve(import.meta.dirname, '../..');
const scripts = Object.entries(SCRIPT_MODULES).flatMap(([file, s]) =>
  Object.entries(s).map(([name, source]) => ({ id: `${file} ${name}`, source })),
);

describe('project Lua scripts', () => {
  it('every module of api/ with Lua in it is collected', () => {
    const withLua = readdirSync(join(ROOT, 'api'), { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
      .map((e) => join(e.parentPath, e.name))
      .filter((f) => /\bredis\.p?call\s*\(/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f))
      .sort();
    expect(withLua).toEqual(Object.keys(SCRIPT_MODULES).sort());
    expect(scripts.length).toBe(14);
  });

  it('only the script helper and the report lock send Lua to Redis', () => {
    const senders = readdirSync(join(ROOT, 'api'), { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
      .map((e) => join(e.parentPath, e.name))
      .filter((f) => /\.(eval|evalsha|evalRo|evalshaRo|scriptLoad)\s*\(/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f))
      .sort();
    expect(senders).toEqual(['api/billing/reporting/schedule.ts', 'api/store/redis.ts']);
  });

  it.each(scripts)('$id: the key-locking flag first, every key from KEYS', ({ source }) => {
    expect(source.split('\n')[0]).toBe(KEY_LOCKING_SHEBANG);
    expect(keyLockingProblems(source)).toEqual([]);
  });
});

describe('the static check itself', () => {
  const ok = luaSource(`local quotaKey = KEYS[1]
local day = ARGV[1]
local q = quotaKey
redis.call('HINCRBY', q, 'used:' .. day, 1) -- a field built in Lua is fine
return redis.call('HGET', quotaKey, "used")`);

  it('passes a script whose keys all come from KEYS', () => {
    expect(keyLockingProblems(ok)).toEqual([]);
  });

  it('finds a missing flag, a key built in Lua, an inline KEYS, a reassigned key, an unknown command', () => {
    expect(keyLockingProblems(ok.slice(ok.indexOf('\n') + 1))[0]).toMatch(/first line/);
    const built = luaSource(`local userId = ARGV[1]
local k = 'rd:{' .. userId .. '}:quota'
return redis.call('HGET', k, 'used')`);
    expect(keyLockingProblems(built).join()).toMatch(/"k" is not a local bound to KEYS/);
    const concat = luaSource(`local quotaKey = KEYS[1]
return redis.call('GET', quotaKey .. ':x')`);
    expect(keyLockingProblems(concat).join()).toMatch(/is not a local bound to KEYS/);
    const inline = luaSource(`return redis.call('GET', KEYS[2])`);
    expect(keyLockingProblems(inline).join()).toMatch(/KEYS is read outside/);
    const moved = luaSource(`local quotaKey = KEYS[1]
local q = quotaKey
q = q .. ':other'
return redis.call('GET', q)`);
    expect(keyLockingProblems(moved).join()).toMatch(/"q" is assigned more than once/);
    const dynamic = luaSource(`local k = KEYS[1]
local cmd = ARGV[1]
return redis.call(cmd, k)`);
    expect(keyLockingProblems(dynamic).join()).toMatch(/not a literal/);
    const unknown = luaSource(`local k = KEYS[1]
local o = KEYS[2]
return redis.call('RENAME', k, o)`);
    expect(keyLockingProblems(unknown).join()).toMatch(/RENAME is not in the list/);
    const commented = luaSource(`local k = KEYS[1]
-- redis.call('GET', 'rd:' .. k)
return redis.call('EXISTS', k, 'rd:literal')`);
    expect(keyLockingProblems(commented).join()).toMatch(/"'_+'" is not a local bound to KEYS/);
  });
});

describe('the Upstash bridge and the flag (local Redis 7.0 refuses it)', () => {
  it('drops the shebang line and keeps the line numbers', () => {
    const src = luaSource("local k = KEYS[1]\nreturn redis.call('GET', k)");
    const local = stripShebang(src);
    expect(local.startsWith('#!')).toBe(false);
    expect(local.split('\n')).toHaveLength(src.split('\n').length);
    expect(local.split('\n').slice(1)).toEqual(src.split('\n').slice(1));
    expect(stripShebang('return 1')).toBe('return 1');
  });
});
