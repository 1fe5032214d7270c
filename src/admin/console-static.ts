import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The web console's files (console/, built by `npm run build` into dist/console/), served by
 * the admin listener at `/`, same origin as /api/v1. Everything is read once at start: the
 * bundle is small, and nothing on disk is consulted per request (no path from a request ever
 * reaches the file system).
 */
export interface ConsoleAsset {
  body: Buffer;
  contentType: string;
}

export interface ConsoleAssets {
  /** The file for a request path, or the SPA page (index.html) for a client route; undefined when absent. */
  lookup(path: string): ConsoleAsset | undefined;
  /** False when the console was not built (tsc alone): the listener then says so. */
  available: boolean;
}

/** Where `npm run build` puts the console, relative to this compiled file (dist/src/admin/). */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/**
 * The console's Content-Security-Policy: scripts, styles and connections from this origin
 * only (no inline script, no eval), no framing, no plugins, forms post only here.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers on every console response. */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
};

const MAX_FILES = 500;
const MAX_BYTES = 20 * 1024 * 1024;

export function loadConsoleAssets(dir: string = DEFAULT_CONSOLE_DIR): ConsoleAssets {
  const files = new Map<string, ConsoleAsset>();
  if (existsSync(join(dir, 'index.html'))) {
    let total = 0;
    const walk = (d: string): void => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        const st = statSync(p);
        if (st.isDirectory()) {
          walk(p);
          continue;
        }
        const type = TYPES[extname(name).toLowerCase()];
        if (!type || name.endsWith('.map')) continue;
        total += st.size;
        if (files.size >= MAX_FILES || total > MAX_BYTES) throw new Error(`the console folder ${dir} holds more than ${MAX_FILES} files or ${MAX_BYTES} bytes`);
        files.set('/' + relative(dir, p).split(sep).join('/'), { body: readFileSync(p), contentType: type });
      }
    };
    walk(dir);
  }
  const index = files.get('/index.html');
  return {
    available: index !== undefined,
    lookup(path) {
      if (!index) return undefined;
      const file = files.get(path);
      if (file) return file;
      // A client route (/keys/abc) gets the page; a missing file (/assets/x.js) does not.
      const last = path.slice(path.lastIndexOf('/') + 1);
      return last.includes('.') ? undefined : index;
    },
  };
}

/** Paths the console never answers: the API and the metrics keep their own 404s. */
export function isConsolePath(path: string): boolean {
  return !(path === '/api' || path.startsWith('/api/') || path === '/metrics' || path.startsWith('/metrics/'));
}
