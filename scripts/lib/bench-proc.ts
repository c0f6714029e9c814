/**
 * The benchmarks' child processes: each gateway under test runs in its own process and reports its own CPU time
 * over IPC; the parent starts it, reads the JSON it prints first, asks for its CPU and stops it. Also the plain
 * text table the benchmarks print.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')).join('\n');
}

export interface Child<T> {
  info: T;
  proc: ChildProcess;
  stop: () => Promise<void>;
}

/** Starts a child process and resolves with the JSON it prints on its first line. */
export async function child<T>(
  args: string[],
  env: Record<string, string> = {},
  nodeFlags: string[] = [],
  cwd?: string,
): Promise<Child<T>> {
  const proc = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', ...args], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
    ...(cwd ? { cwd } : {}),
  });
  const kill = () => proc.kill();
  process.once('exit', kill);
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code})`)));
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    info: JSON.parse(line) as T,
    proc,
    // Resolves once the child has cleaned up after itself (the Redis role stops its redis-server).
    stop: () => {
      process.off('exit', kill);
      if (proc.exitCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** The CPU time (ms) a gateway child reports for itself. */
export const cpuOf = (proc: ChildProcess) => () =>
  new Promise<number>((resolve) => {
    proc.once('message', (m) => resolve((m as { cpuMs: number }).cpuMs));
    proc.send('cpu');
  });

/** In a gateway child: answer the bench's CPU questions over IPC, exit on SIGTERM. */
export function serveCpu(): void {
  process.on('message', (m) => {
    if (m !== 'cpu') return;
    const u = process.cpuUsage();
    process.send!({ cpuMs: (u.user + u.system) / 1000 });
  });
  process.once('SIGTERM', () => process.exit(0));
}
