/** Runs one of scripts/ as its own process (as `npm run …` would), with only the Redis configuration in its environment. */
import { spawn } from 'node:child_process';
import { dirname } from 'node:path';

export interface ScriptRun {
  code: number | null;
  out: string;
  err: string;
}

export function runScript(script: string, args: string[], redis?: { url: string; token: string }): Promise<ScriptRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    env: {
      PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? '/tmp',
      ...(redis ? { UPSTASH_REDIS_REST_URL: redis.url, UPSTASH_REDIS_REST_TOKEN: redis.token } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out, err })));
}
