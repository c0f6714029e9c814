/**
 * Serves the built editor site (build.ts) from two loopback servers: `url` (the main origin, 127.0.0.1) and
 * `crossOrigin` (`localhost` on another port: another origin AND another site, so Chromium runs such a frame
 * in a process of its own, as for an editor embedded from another domain). Both serve the same directory; in HTML, `__CROSS_ORIGIN__` becomes the OTHER
 * server's origin, which is how frame-cross-origin.html points its iframe at the second origin.
 */
import { createServer, type Server } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { CROSS_ORIGIN_PLACEHOLDER } from './build';

export interface EditorSite {
  /** Main origin with a trailing slash, e.g. `http://127.0.0.1:40123/`. */
  url: string;
  /** The second origin, no trailing slash, e.g. `http://localhost:40124`. */
  crossOrigin: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
};

/** The file a request path names inside dir, or null when it escapes dir. `/` is index.html. */
function resolvePath(dir: string, urlPath: string): string | null {
  let path: string;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (path.endsWith('/')) path += 'index.html';
  const file = normalize(join(dir, path));
  return file.startsWith(dir + sep) ? file : null;
}

function staticServer(dir: string, otherOrigin: () => string): Server {
  return createServer((req, res) => {
    const file = resolvePath(dir, new URL(req.url ?? '/', 'http://x').pathname);
    const send = (status: number, type: string, body: string | Buffer) => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) return send(404, 'text/plain', 'not found');
    void (async () => {
      try {
        if (!(await stat(file)).isFile()) return send(404, 'text/plain', 'not found');
        const ext = extname(file);
        const body = await readFile(file);
        const type = TYPES[ext] ?? 'application/octet-stream';
        send(
          200,
          type,
          ext === '.html' ? body.toString('utf8').replaceAll(CROSS_ORIGIN_PLACEHOLDER, otherOrigin()) : body,
        );
      } catch {
        send(404, 'text/plain', 'not found');
      }
    })();
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (typeof addr !== 'object' || !addr) throw new Error('server has no address');
  return `http://127.0.0.1:${addr.port}`;
}

const closeServer = (server: Server) =>
  new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });

export async function serveEditorSite(dir: string): Promise<EditorSite> {
  const root = normalize(dir).replace(/[\\/]+$/, '');
  const origins = { main: '', second: '' };
  const main = staticServer(root, () => origins.second);
  const second = staticServer(root, () => origins.main);
  origins.main = await listen(main);
  // `localhost` is another SITE than 127.0.0.1: Chromium puts the frame in a process of its own (an
  // out-of-process iframe, as for a CMS or e-mail editor embedded from another domain).
  origins.second = (await listen(second)).replace('//127.0.0.1:', '//localhost:');
  return {
    url: `${origins.main}/`,
    crossOrigin: origins.second,
    close: async () => {
      await Promise.all([closeServer(main), closeServer(second)]);
    },
  };
}
