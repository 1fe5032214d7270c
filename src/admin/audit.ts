/**
 * What the admin API records about a request: the change through the one redactor
 * (domain/redact.ts), bounded in size as a whole.
 */
import { redactSecrets } from '../domain/index.js';

const MAX_CHANGE_CHARS = 8192;

/** Redacted and bounded: what goes into an audit record. */
export function recordedChange(body: unknown): unknown {
  if (body === undefined || body === null) return null;
  const r = redactSecrets(body);
  const text = JSON.stringify(r);
  return text.length <= MAX_CHANGE_CHARS ? r : { truncated: true, bytes: text.length };
}
