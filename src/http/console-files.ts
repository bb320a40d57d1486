/**
 * The operator console at `/`: the static files Vite built into dist/console/
 * (`npm run build`, run by `npm install`). Nothing is read at start: a file is read
 * on its first request; the hashed files under /assets/ are then kept in memory (the
 * bundle is a few hundred kB) and cached by browsers for a year. index.html is read
 * on each load and revalidated by browsers, so a rebuilt console shows at once. Without a built
 * console `/` says how to build it.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../logger.js';
import type { HttpExtension } from './http-server.js';

/** Where the built console is: dist/console/, from dist/src/http/ (built) or src/http/ (tsx). */
function builtConsoleDir(): string {
  const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  return path.basename(top) === 'dist' ? path.join(top, 'console') : path.join(top, 'dist', 'console');
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
};

/** Same-origin only: scripts, styles and media from this node; GraphQL over HTTP and WebSocket to it. */
const CSP = [
  "default-src 'self'",
  "connect-src 'self'",
  "media-src 'self' blob:",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const ASSET = /^\/assets\/[A-Za-z0-9_.-]+$/;

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stream-cascade: console not built</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40em;margin:2em auto">
<h1>The console is not built</h1>
<p>This node serves its operator console from <code>dist/console/</code>, which is missing.
Build it in the program's folder with <code>npm install</code> (which runs <code>npm run build</code>)
or, with the dev dependencies installed, <code>npm run build</code>; then reload this page.
No restart is needed.</p>
<p>Meanwhile: GraphiQL at <a href="/graphql">/graphql</a>, the REST API under <code>/api/</code>.</p>
</body></html>
`;

interface CachedFile {
  body: Buffer;
  type: string;
}

/** The console's files as an {@link HttpExtension}; `dir` defaults to the built console. */
export function consoleFiles(log: Logger, dir = builtConsoleDir()): HttpExtension {
  const cache = new Map<string, Promise<CachedFile | null>>();
  let warned = false;
  const load = (name: string): Promise<CachedFile | null> => {
    // index.html is small and names the current hashed files: read it every time.
    let p = name === 'index.html' ? undefined : cache.get(name);
    if (!p) {
      p = readFile(path.join(dir, name)).then(
        (body) => ({ body, type: TYPES[path.extname(name)] ?? 'application/octet-stream' }),
        () => null,
      );
      // A missing file is asked again next time (the console may be built meanwhile).
      if (name !== 'index.html') {
        void p.then((f) => f ?? cache.delete(name));
        cache.set(name, p);
      }
    }
    return p;
  };

  return {
    handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      const pathname = (req.url ?? '/').split('?')[0] ?? '/';
      const index = pathname === '/' || pathname === '/index.html';
      if (!index && !ASSET.test(pathname)) return false;
      void load(index ? 'index.html' : pathname.slice(1)).then((f) => {
        if (res.headersSent || res.destroyed) return;
        if (!f) {
          if (!index) {
            res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end('no such console file\n');
            return;
          }
          if (!warned) log.warn({ dir }, 'console requested but not built (run npm run build)');
          warned = true;
          res.writeHead(404, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : NOT_BUILT);
          return;
        }
        res.writeHead(200, {
          'content-type': f.type,
          'content-length': f.body.byteLength,
          'cache-control': index ? 'no-cache' : 'public, max-age=31536000, immutable',
          'x-content-type-options': 'nosniff',
          ...(index ? { 'content-security-policy': CSP, 'referrer-policy': 'no-referrer' } : {}),
        });
        res.end(req.method === 'HEAD' ? undefined : f.body);
      });
      return true;
    },
  };
}
