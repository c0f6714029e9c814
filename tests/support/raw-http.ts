/**
 * HTTP/1.1 by hand over a socket, for what fetch cannot do: a chunked body of any size sent at the
 * pace the server reads it (to see when the server stops reading and answers), a client that goes
 * away in the middle of its body, and requests that dribble in.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  /** Status of the response, if one arrived before the connection closed. */
  status: number | undefined;
  head: string;
  body: string;
  /** Body bytes the client had written (into the socket) when it stopped. */
  sent: number;
}

function target(base: string) {
  const u = new URL(base);
  return { host: u.hostname, port: Number(u.port) };
}

function parse(raw: string): Pick<RawResponse, 'status' | 'head' | 'body'> {
  const at = raw.indexOf('\r\n\r\n');
  const head = at < 0 ? raw : raw.slice(0, at);
  const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
  return { status: status ? Number(status) : undefined, head, body: at < 0 ? '' : raw.slice(at + 4) };
}

/**
 * POSTs a chunked body (no Content-Length) of `total` bytes in `chunk`-sized pieces, respecting the
 * socket's backpressure; stops writing as soon as the server answers. With `disconnectAfter`, the
 * client destroys the connection once it has written that many bytes, without finishing the body.
 */
export async function chunkedPost(
  base: string,
  path: string,
  o: { headers?: Record<string, string>; total: number; chunk?: number; disconnectAfter?: number; timeoutMs?: number },
): Promise<RawResponse> {
  const socket: Socket = connect(target(base));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let raw = '';
  let answered = false;
  let closed = false;
  socket.on('data', (d) => {
    raw += d.toString('latin1');
    answered = true;
  });
  socket.on('error', () => {}); // EPIPE/ECONNRESET once the server closes: expected
  const done = new Promise<void>((resolve) => socket.once('close', () => ((closed = true), resolve())));
  const headers = {
    Host: 'localhost',
    'Transfer-Encoding': 'chunked',
    'Content-Type': 'application/json',
    ...o.headers,
  };
  socket.write(
    `POST ${path} HTTP/1.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`,
  );
  const piece = Buffer.alloc(o.chunk ?? 64 * 1024, 0x20); // spaces: valid JSON whitespace
  let sent = 0;
  while (sent < o.total && !answered && !closed) {
    if (o.disconnectAfter !== undefined && sent >= o.disconnectAfter) {
      socket.destroy();
      await done;
      return { ...parse(raw), sent };
    }
    const n = Math.min(piece.length, o.total - sent);
    const ok = socket.write(
      Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), piece.subarray(0, n), Buffer.from('\r\n')]),
    );
    sent += n;
    if (!ok)
      await new Promise<void>((resolve) => {
        socket.once('drain', resolve);
        socket.once('close', resolve);
        socket.once('data', resolve);
      });
  }
  if (!answered && !closed) socket.write('0\r\n\r\n');
  await Promise.race([done, new Promise((r) => setTimeout(r, o.timeoutMs ?? 10_000))]);
  // Give a response that is still arriving a moment, then hang up.
  if (!closed) {
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();
  }
  return { ...parse(raw), sent };
}

/** Opens a connection, writes `text`, and waits for the server to answer or close (up to `timeoutMs`). */
export async function rawExchange(
  base: string,
  text: string,
  timeoutMs: number,
): Promise<{ raw: string; closedAfterMs: number | undefined }> {
  const socket = connect(target(base));
  const t0 = Date.now();
  let raw = '';
  socket.on('data', (d) => (raw += d.toString('latin1')));
  socket.on('error', () => {});
  socket.write(text);
  const closedAfterMs = await new Promise<number | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
  socket.destroy();
  return { raw, closedAfterMs };
}
