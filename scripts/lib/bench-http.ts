/**
 * The bench's plain node:http pieces: the load generator's client (no web streams, so its own cost stays low and
 * alike for every path) and the minimal byte-piping proxy (the baseline any Node gateway can reach).
 */
import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildMessages } from '../../shared/prompts';
import type { RewriteRequest } from '../../shared/contract';

export interface Sent {
  status: number;
  /** ms from the request's start to its first body byte (NaN when there was none). */
  ttfb: number;
  bytes: number;
}

/** One POST; resolves once the whole body was read. */
export function post(
  agent: Agent,
  url: URL,
  headers: Record<string, string>,
  body: string,
  onFirstByte?: () => void,
  retried = false,
): Promise<Sent> {
  return new Promise((resolve) => {
    const start = performance.now();
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        let ttfb = Number.NaN;
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          if (bytes === 0) {
            ttfb = performance.now() - start;
            onFirstByte?.();
          }
          bytes += chunk.length;
        });
        res.once('end', () => resolve({ status: res.statusCode ?? 0, ttfb, bytes }));
        res.once('error', () => resolve({ status: 0, ttfb, bytes }));
      },
    );
    req.once('error', (err: NodeJS.ErrnoException) => {
      // A kept-alive socket the server closed just as it was reused (its idle timeout): send again, as Node's
      // docs advise. Any other error is a failed request, counted, not thrown.
      if (req.reusedSocket && err.code === 'ECONNRESET' && !retried)
        resolve(post(agent, url, headers, body, onFirstByte, true));
      else resolve({ status: 0, ttfb: Number.NaN, bytes: 0 });
    });
    req.end(body);
  });
}

/** The chat-completions body every path ends up sending to the model for one rewrite request (no style, no extras). */
export function chatBody(r: RewriteRequest): string {
  const messages = buildMessages(r);
  return JSON.stringify({
    model: 'gpt-4o-mini',
    messages,
    max_tokens: 20_000,
    temperature: 0.7,
    stream: true,
    stream_options: { include_usage: true },
  });
}

/**
 * The baseline: plain node:http, reads the rewrite request, builds the model's request and pipes the upstream
 * response's bytes to the client (no SSE parsing, no metering).
 */
export async function startPipeProxy(modelBaseUrl: string): Promise<{ url: string; server: Server }> {
  const upstream = new URL(`${modelBaseUrl}/chat/completions`);
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('end', () => {
      let body: string;
      try {
        body = chatBody(JSON.parse(Buffer.concat(chunks).toString('utf8')) as RewriteRequest);
      } catch {
        res.writeHead(400).end();
        return;
      }
      const up = request(
        {
          agent,
          host: upstream.hostname,
          port: upstream.port,
          path: upstream.pathname,
          method: 'POST',
          headers: {
            Authorization: 'Bearer stand-in',
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
          },
        },
        (ur) => {
          const headers: IncomingHttpHeaders = { 'content-type': ur.headers['content-type'] };
          res.writeHead(ur.statusCode ?? 502, headers);
          ur.pipe(res);
        },
      );
      up.once('error', () => res.destroy());
      res.once('close', () => {
        if (!res.writableFinished) up.destroy();
      });
      up.end(body);
    });
  });
  server.keepAliveTimeout = 120_000; // the load generator keeps connections open across the other paths' batches
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
