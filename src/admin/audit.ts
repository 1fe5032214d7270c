/**
 * What the admin API records about a request: the change without its secrets. Secrets
 * never enter a request body except as passwords, so any field whose name looks secret
 * is replaced; what remains is bounded in size.
 */
const SECRET_FIELD = /pass(word)?|secret|token|api.?key|authorization|cookie|private|pin$|material/i;
const MAX_CHANGE_CHARS = 8192;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[nested]';
  if (Array.isArray(value)) return value.slice(0, 200).map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = SECRET_FIELD.test(k) ? '[redacted]' : redact(v, depth + 1);
    return out;
  }
  if (typeof value === 'string' && value.length > 2048) return value.slice(0, 2048) + '…';
  return value;
}

/** Redacted and bounded: what goes into an audit record. */
export function recordedChange(body: unknown): unknown {
  if (body === undefined || body === null) return null;
  const r = redact(body);
  const text = JSON.stringify(r);
  return text.length <= MAX_CHANGE_CHARS ? r : { truncated: true, bytes: text.length };
}
