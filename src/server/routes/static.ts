// The web page: the files esbuild wrote to dist/web (npm run build:web), served from memory.
// Each file gets its own route (no wildcard), so unknown paths still answer the API's 404 and
// nothing outside that folder can ever be reached.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Ctx } from '../http.js';
import { HttpError, send } from '../http.js';
import type { Router } from '../router.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** dist/web, next to dist/src where this module runs from. */
export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web');

const CSP = [
  "default-src 'self'",
  "connect-src 'self' ws: wss:",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "style-src 'self'",
  "script-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!fs.existsSync(dir)) return assets;
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const file = path.join(dir, name);
    if (!fs.statSync(file).isFile()) continue;
    const type = TYPES[path.extname(name).toLowerCase()];
    if (!type) continue;
    const body = fs.readFileSync(file);
    const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 20)}"`;
    assets.set('/' + name.split(path.sep).join('/'), { body, type, etag });
  }
  return assets;
}

export function registerStatic(router: Router, dir = WEB_DIR): void {
  const assets = loadAssets(dir);
  const serve = (asset: Asset) => (ctx: Ctx) => {
    const headers: Record<string, string> = {
      ETag: asset.etag,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    };
    if (asset.type.startsWith('text/html')) headers['Content-Security-Policy'] = CSP;
    if (ctx.headers['if-none-match'] === asset.etag) {
      send(ctx, 304, '', null, { headers });
      return;
    }
    send(ctx, 200, asset.body, asset.type, { headers });
  };
  for (const [url, asset] of assets) {
    router.add('get', url, 'static', serve(asset), { auth: false });
  }
  const index = assets.get('/index.html');
  router.add(
    'get',
    '/',
    'static',
    index
      ? serve(index)
      : () => {
          throw new HttpError(404, 'not_found', 'The web page is not built: run `npm run build:web`');
        },
    { auth: false },
  );
}
