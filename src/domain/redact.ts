/**
 * The one secret redactor: what an audit record (admin API request bodies, CLI and scheduler
 * changes) may keep of a change. Callers already describe changes without secrets; this is
 * the second line of defence. A property whose name has a secret word in it (camelCase,
 * snake_case or kebab-case words: `secretAccessKey`, `hsm_pin`, `apiKey`, but not `spinner`)
 * and any binary value are replaced; strings, arrays and nesting are bounded.
 */
const SECRET_WORDS = new Set(['secret', 'password', 'passphrase', 'passwd', 'pin', 'token', 'material', 'plaintext', 'cookie', 'authorization', 'sealed', 'private', 'otp']);
const MAX_STRING = 4096;
const MAX_ARRAY = 1000;
const MAX_DEPTH = 8;

export const REDACTED = '[redacted]';

export function isSecretName(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/);
  return words.some((w) => SECRET_WORDS.has(w) || w.endsWith('secret') || w.endsWith('password') || w.endsWith('token') || w === 'apikey') || words.join('').includes('apikey');
}

/** A JSON-safe copy of `value` without anything that looks secret (see the module comment). */
export function redactSecrets(value: unknown): unknown {
  const clean = (v: unknown, depth: number): unknown => {
    if (v === null || typeof v === 'boolean') return v;
    if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
    if (typeof v === 'string') return v.length > MAX_STRING ? v.slice(0, MAX_STRING) + '…' : v;
    if (v instanceof Uint8Array || v instanceof ArrayBuffer) return '[binary]';
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
    if (depth >= MAX_DEPTH) return '[nested]';
    if (Array.isArray(v)) return v.slice(0, MAX_ARRAY).map((x) => clean(x, depth + 1) ?? null);
    if (typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (x === undefined || typeof x === 'function') continue;
        out[k] = isSecretName(k) ? REDACTED : clean(x, depth + 1);
      }
      return out;
    }
    return undefined;
  };
  return clean(value, 0);
}
