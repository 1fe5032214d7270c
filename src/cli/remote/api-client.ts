import { createWriteStream, rmSync } from 'node:fs';
import { request } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { isErrorCode, KeyholdError } from '../../base/index.js';
import type { ApprovalRequest } from '../../domain/index.js';

/** The admin API answered 202: the action now waits for a quorum of approvals. */
export class PendingApprovalError extends KeyholdError {
  constructor(readonly approval: ApprovalRequest) {
    const n = approval.votes.filter((v) => v.decision === 'approve').length;
    super(
      'ApprovalPending',
      `${approval.summary}: waiting for approval (request ${approval.id}, ${n} of ${approval.required} approvals, expires ${approval.expiresAt}). ` +
        `Another custodian runs: keyhold approval approve ${approval.id}`,
    );
  }
}

export interface ApiClientOptions {
  /** https://host:port of the admin listener. */
  baseUrl: string;
  token?: string | undefined;
  /** PEM trust anchors; the system's when absent. */
  ca?: string | Buffer | undefined;
  timeoutMs?: number;
  /** Turns the API's 202 body into a domain approval request. */
  toApproval: (view: unknown) => ApprovalRequest;
}

export interface ApiClient {
  call<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T>;
  /** GETs a file (any size, not JSON) into a new file `to` (mode 0600); a partial file is removed. */
  download(path: string, to: string): Promise<{ bytes: number }>;
}

function errorOf(status: number, text: string): KeyholdError {
  let b: { error?: unknown; message?: unknown } = {};
  try {
    b = (text === '' ? {} : JSON.parse(text)) as typeof b;
  } catch {
    b = {};
  }
  const code = isErrorCode(b.error) ? b.error : 'Internal';
  const message = typeof b.message === 'string' ? b.message : `the server answered ${status}`;
  return new KeyholdError(code, `${message} (HTTP ${status})`);
}

const MAX_RESPONSE = 16 * 1024 * 1024;

/** A small JSON-over-HTTPS client for /api/v1; errors come back as KeyholdErrors. */
export function createApiClient(opts: ApiClientOptions): ApiClient {
  let base: URL;
  try {
    base = new URL(opts.baseUrl);
  } catch {
    throw new KeyholdError('ValidationFailed', `--server '${opts.baseUrl}' is not a URL (like https://localhost:8444)`);
  }
  if (base.protocol !== 'https:') throw new KeyholdError('ValidationFailed', `--server must be an https:// URL, not ${base.protocol}`);

  return {
    call<T>(method: string, path: string, body?: unknown): Promise<T> {
      const url = new URL('/api/v1' + path, base);
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
      return new Promise<T>((resolve, reject) => {
        const req = request(
          url,
          {
            method,
            ca: opts.ca,
            timeout: opts.timeoutMs ?? 30_000,
            headers: {
              accept: 'application/json',
              ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
              ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on('data', (c: Buffer) => {
              size += c.length;
              if (size > MAX_RESPONSE) req.destroy(new KeyholdError('TooLarge', 'the server answered with more than 16 MiB'));
              else chunks.push(c);
            });
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let json: unknown;
              try {
                json = text === '' ? undefined : JSON.parse(text);
              } catch {
                json = undefined;
              }
              const status = res.statusCode ?? 0;
              if (status === 202 && json && typeof json === 'object' && 'pendingApproval' in json) {
                reject(new PendingApprovalError(opts.toApproval((json as { pendingApproval: unknown }).pendingApproval)));
              } else if (status >= 200 && status < 300) {
                resolve(json as T);
              } else {
                reject(errorOf(status, text));
              }
            });
            res.on('error', reject);
          },
        );
        req.on('timeout', () => req.destroy(new KeyholdError('DependencyTimeout', `no answer from ${base.origin} within ${(opts.timeoutMs ?? 30_000) / 1000} s`)));
        req.on('error', (e) => {
          if (e instanceof KeyholdError) reject(e);
          else reject(new KeyholdError('BackendUnavailable', `cannot reach the admin API at ${base.origin}: ${e.message}`, { cause: e }));
        });
        req.end(payload);
      });
    },

    download(path: string, to: string): Promise<{ bytes: number }> {
      const url = new URL('/api/v1' + path, base);
      const timeoutMs = opts.timeoutMs ?? 30_000;
      return new Promise<{ bytes: number }>((resolve, reject) => {
        const req = request(url, { method: 'GET', ca: opts.ca, timeout: timeoutMs, headers: { accept: '*/*', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) } }, (res) => {
          const status = res.statusCode ?? 0;
          if (status !== 200) {
            let text = '';
            res.on('data', (c: Buffer) => void (text.length < 65536 && (text += c.toString('utf8'))));
            res.on('end', () => reject(errorOf(status, text)));
            res.on('error', reject);
            return;
          }
          let bytes = 0;
          res.on('data', (c: Buffer) => void (bytes += c.length));
          const out = createWriteStream(to, { flags: 'wx', mode: 0o600 });
          pipeline(res, out).then(
            () => {
              const expected = Number(res.headers['content-length']);
              if (Number.isFinite(expected) && expected !== bytes) {
                rmSync(to, { force: true });
                reject(new KeyholdError('BackendUnavailable', `the download from ${base.origin} was cut short (${bytes} of ${expected} bytes); nothing was kept`));
              } else resolve({ bytes });
            },
            (e: unknown) => {
              if ((e as { code?: string }).code !== 'EEXIST') rmSync(to, { force: true });
              reject((e as { code?: string }).code === 'EEXIST' ? new KeyholdError('Conflict', `${to} already exists`) : e);
            },
          );
        });
        req.on('timeout', () => req.destroy(new KeyholdError('DependencyTimeout', `no answer from ${base.origin} within ${timeoutMs / 1000} s`)));
        req.on('error', (e) => {
          if (e instanceof KeyholdError) reject(e);
          else reject(new KeyholdError('BackendUnavailable', `cannot reach the admin API at ${base.origin}: ${e.message}`, { cause: e }));
        });
        req.end();
      });
    },
  };
}
