/**
 * An Upstash-REST-compatible HTTP bridge in front of a real redis-server — dev, tests and benchmarks
 * only. Production talks to Upstash itself; here the very same `@upstash/redis` client (and
 * `@upstash/ratelimit` on top of it) talks to this bridge, so no client code is mocked.
 *
 * Speaks what the client sends: `POST /` (one command as a JSON array), `POST /pipeline` and
 * `POST /multi-exec` (arrays of commands), a bearer token, and `Upstash-Encoding: base64` (every
 * string in a reply base64-encoded, except a literal "OK"). Errors carry Redis's own text
 * (e.g. `NOSCRIPT ...`), which script fallbacks look for.
 *
 * Redis 7.0 rejects the `#!lua flags=allow-key-locking` shebang that @upstash/ratelimit ≥ 2.1 puts on
 * its scripts; the bridge drops the shebang line and maps the library's SHA to the local script's SHA,
 * so EVALSHA with the library's precomputed hash works after the first EVAL.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis as IORedis } from 'ioredis';

export interface UpstashBridge {
  url: string;
  token: string;
  /** Requests served, by path. */
  stats: { requests: number; commands: number; inFlight: number; byPath: Record<string, number> };
  /** Fault injection: hold every reply this long (a slow Redis / network); 0 turns it off. */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

type Command = (string | number | boolean | null)[];
type Reply = { result: unknown } | { error: string };

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

/** Script shebang handling for Redis < 7.2 (pure). */
export function stripShebang(script: string): string {
  if (!script.startsWith('#!')) return script;
  const nl = script.indexOf('\n');
  return nl === -1 ? '' : `\n${script.slice(nl + 1)}`; // keep line numbers in error messages
}

export async function startUpstashBridge(opts: {
  redisUrl: string;
  port?: number;
  token?: string;
}): Promise<UpstashBridge> {
  const token = opts.token ?? randomBytes(16).toString('hex');
  // Plain commands share one connection (ioredis pipelines them in order); MULTI/EXEC gets its own
  // per request, so a transaction never interleaves with other clients' commands.
  const redis = new IORedis(opts.redisUrl, {
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => 100,
    lazyConnect: false,
  });
  redis.on('error', () => {}); // reconnects by itself; command errors reach the caller
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', () => resolve());
    setTimeout(() => reject(new Error(`upstash bridge: cannot reach ${opts.redisUrl}`)), 10_000).unref();
  });
  const shaMap = new Map<string, string>();
  const stats = { requests: 0, commands: 0, inFlight: 0, byPath: {} as Record<string, number> };

  /** Rewrites script commands for this Redis version; returns the command as Redis should see it. */
  function prepare(cmd: Command): string[] {
    const args = cmd.map((a) => (a === null ? '' : String(a)));
    // Upper-case: ioredis turns a lower-case `hgetall` reply into an object; Redis's raw reply is wanted.
    args[0] = (args[0] ?? '').toUpperCase();
    const name = (args[0] ?? '').toLowerCase();
    if ((name === 'eval' || name === 'eval_ro') && args[1]?.startsWith('#!')) {
      const local = stripShebang(args[1]);
      shaMap.set(sha1(args[1]), sha1(local));
      args[1] = local;
    } else if ((name === 'evalsha' || name === 'evalsha_ro') && args[1]) {
      args[1] = shaMap.get(args[1].toLowerCase()) ?? args[1];
    } else if (name === 'script' && args[1]?.toLowerCase() === 'load' && args[2]?.startsWith('#!')) {
      const local = stripShebang(args[2]);
      shaMap.set(sha1(args[2]), sha1(local));
      args[2] = local;
    }
    return args;
  }

  /** Upstash's encoding: with base64, every string is encoded, except a top-level "OK" (as the client expects). */
  const encode = (v: unknown, base64: boolean, top = true): unknown => {
    if (Buffer.isBuffer(v)) {
      const s = v.toString('utf8');
      if (!base64 || (top && s === 'OK')) return s;
      return v.toString('base64');
    }
    if (Array.isArray(v)) return v.map((x) => encode(x, base64, false));
    return v ?? null;
  };

  const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

  async function one(cmd: Command, base64: boolean): Promise<Reply> {
    const [name, ...args] = prepare(cmd);
    try {
      return { result: encode(await redis.callBuffer(name!, ...args), base64) };
    } catch (err) {
      return { error: errorText(err) };
    }
  }

  async function multiExec(cmds: Command[], base64: boolean): Promise<Reply[] | { error: string }> {
    const conn = redis.duplicate({ lazyConnect: true, enableOfflineQueue: true });
    conn.on('error', () => {});
    try {
      await conn.connect();
      const multi = conn.multi();
      for (const cmd of cmds) {
        const [name, ...args] = prepare(cmd);
        multi.callBuffer(name!, ...args);
      }
      const results = (await multi.exec()) ?? [];
      return results.map(([err, res]) => (err ? { error: errorText(err) } : { result: encode(res, base64) }));
    } catch (err) {
      return { error: errorText(err) };
    } finally {
      conn.disconnect();
    }
  }

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  };

  let delayMs = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests++;
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    // For benchmarks in another process: how many round trips the API made (not counted itself).
    if (req.method === 'GET' && path === '/_bridge/stats') {
      stats.requests--;
      return send(res, 200, stats);
    }
    stats.byPath[path] = (stats.byPath[path] ?? 0) + 1;
    if (req.headers.authorization !== `Bearer ${token}`) return send(res, 401, { error: 'Unauthorized' });
    if (req.method !== 'POST') return send(res, 405, { error: 'Method not allowed' });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(res, 400, { error: 'ERR failed to parse command' });
    }
    // A slow Redis: the commands still run, after the delay, even when the client has given up.
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    const base64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64';
    const isCommand = (c: unknown): c is Command => Array.isArray(c) && c.length > 0;

    if (path === '/') {
      if (!isCommand(body)) return send(res, 400, { error: 'ERR command must be a non-empty JSON array' });
      stats.commands++;
      const reply = await one(body, base64);
      return send(res, 'error' in reply ? 400 : 200, reply);
    }
    if (path === '/pipeline' || path === '/multi-exec') {
      if (!Array.isArray(body) || body.length === 0 || !body.every(isCommand)) {
        return send(res, 400, { error: 'ERR body must be a non-empty array of commands' });
      }
      stats.commands += body.length;
      if (path === '/pipeline') return send(res, 200, await Promise.all(body.map((c) => one(c, base64))));
      const replies = await multiExec(body, base64);
      return send(res, Array.isArray(replies) ? 200 : 400, replies);
    }
    return send(res, 404, { error: `ERR unknown path ${path}` });
  }

  const server = createServer((req, res) => {
    stats.inFlight++;
    handle(req, res)
      .catch((err) => send(res, 500, { error: `ERR bridge: ${errorText(err)}` }))
      .finally(() => stats.inFlight--);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    stats,
    setDelay(ms) {
      delayMs = ms;
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      redis.disconnect();
    },
  };
}
