/**
 * A real Debian `redis-server`, started as a child process on a free loopback port — for dev, tests
 * and benchmarks (production uses Upstash). `stop()` and `start()` let fault tests take Redis away and
 * bring it back on the same port. The child is killed when this process exits, so it never lingers.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  url: string;
  port: number;
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM, then SIGKILL). Data is kept only when started with `persist`. */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

export interface RedisServerOptions {
  /** Data directory; a temporary one (removed at stop) when omitted. */
  dir?: string;
  port?: number;
  /** Append-only persistence, so data survives a restart (dev). Off for tests. */
  persist?: boolean;
}

export function redisServerInstalled(): boolean {
  return spawnSync('sh', ['-c', 'command -v redis-server']).status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const running = new Set<ChildProcess>();
const tempDirs: string[] = [];
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  if (!redisServerInstalled()) {
    throw new Error(
      'redis-server is not installed. Install it with: sudo apt-get install -y redis-server ' +
        '(or run: bash scripts/run.sh test)',
    );
  }
  const port = opts.port ?? (await freePort());
  const tempDir = opts.dir ? undefined : mkdtempSync(join(tmpdir(), 'redraft-redis-'));
  const dir = opts.dir ?? tempDir!;
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    if (child) return;
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
    args.push('--appendonly', opts.persist ? 'yes' : 'no', '--daemonize', 'no');
    args.push('--protected-mode', 'yes', '--loglevel', 'warning');
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(proc);
    child = proc;
    let output = '';
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    proc.once('exit', () => {
      running.delete(proc);
      if (child === proc) child = undefined;
    });
    // Ready when it accepts a connection and answers PING.
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited (${proc.exitCode}): ${output.trim()}`);
      if (await ping(port)) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}: ${output.trim()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function stop(): Promise<void> {
    const proc = child;
    if (!proc) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }

  if (tempDir) tempDirs.push(tempDir); // removed at process exit: a stopped server may be started again
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid;
    },
    start,
    stop,
  };
}

/** True when something on the port answers a Redis PING with PONG. */
async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}
