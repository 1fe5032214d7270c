/**
 * Request validation at the edge, shaped like AWS JSON 1.1 services answer it:
 * - a value of the wrong JSON type, or a blob that is not Base64 → SerializationException;
 * - a missing required member or a violated constraint (length, range, pattern, enum)
 *   → ValidationException "N validation error(s) detected: Value 'x' at 'member' failed to
 *   satisfy constraint: Member must ...".
 * JSON null counts as absent, as in the AWS protocols; unknown members are ignored.
 */
import { z } from 'zod';
import { decodeBase64Strict } from '../base/index.js';
import { kmsError, type KmsError } from './errors.js';

/** Members whose values are secret or bulky: never echoed in an error message. */
const NO_ECHO = new Set(['Plaintext', 'CiphertextBlob', 'RawSecretAccessKey', 'EncryptedKeyMaterial', 'ImportToken', 'Policy', 'EncryptionContext', 'SourceEncryptionContext', 'DestinationEncryptionContext']);

export const str = (min: number, max: number, pattern?: RegExp) => {
  let s = z.string().min(min).max(max);
  if (pattern) s = s.regex(pattern);
  return s;
};

export const int = (min: number, max: number) => z.number().int().min(min).max(max);

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values);

/** A Base64 blob with bounds on its decoded length. */
export const blob = (min: number, max: number) =>
  z.string().transform((text, ctx) => {
    const bytes = decodeBase64Strict(text);
    if (bytes === undefined) {
      ctx.issues.push({ code: 'custom', message: 'serialization: not valid Base64', input: text, params: { serialization: true } });
      return z.NEVER;
    }
    if (bytes.length < min || bytes.length > max) {
      ctx.issues.push({
        code: 'custom',
        message: bytes.length < min ? `Member must have length greater than or equal to ${min}` : `Member must have length less than or equal to ${max}`,
        input: text,
      });
      return z.NEVER;
    }
    return bytes;
  });

/** EncryptionContext: string → string. */
export const encryptionContext = () => z.record(z.string(), z.string());

export const grantTokens = () => z.array(str(1, 8192)).max(10);

export const tagList = () => z.array(z.object({ TagKey: str(1, 128), TagValue: str(0, 256) }));

function stripNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripNulls);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = stripNulls(x);
    return out;
  }
  return v;
}

function memberName(path: readonly PropertyKey[]): string {
  return path
    .map((p) => (typeof p === 'number' ? String(p + 1) : String(p)))
    .map((p) => p.charAt(0).toLowerCase() + p.slice(1))
    .join('.');
}

function constraintText(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_small':
      if (issue.origin === 'string') return `Member must have length greater than or equal to ${issue.minimum}`;
      if (issue.origin === 'array') return `Member must have length greater than or equal to ${issue.minimum}`;
      return `Member must have value greater than or equal to ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'string') return `Member must have length less than or equal to ${issue.maximum}`;
      if (issue.origin === 'array') return `Member must have length less than or equal to ${issue.maximum}`;
      return `Member must have value less than or equal to ${issue.maximum}`;
    case 'invalid_format':
      return `Member must satisfy regular expression pattern: ${'pattern' in issue ? String(issue.pattern).replace(/^\/|\/$/g, '') : issue.format}`;
    case 'invalid_value':
      return `Member must satisfy enum value set: [${issue.values.map(String).join(', ')}]`;
    default:
      return issue.message;
  }
}

function isSerializationIssue(issue: z.core.$ZodIssue): boolean {
  if (issue.code === 'custom') return Boolean(issue.params?.['serialization']);
  // A present value of the wrong type (a missing one has no input).
  return issue.code === 'invalid_type' && 'input' in issue && issue.input !== undefined && issue.expected !== 'int';
}

function describeValue(issue: z.core.$ZodIssue): string {
  const top = issue.path[0];
  if (typeof top === 'string' && NO_ECHO.has(top)) return 'Value';
  const input = 'input' in issue ? issue.input : undefined;
  if (typeof input === 'string' && input.length <= 256) return `Value '${input}'`;
  if (typeof input === 'number') return `Value '${input}'`;
  return 'Value';
}

export function toKmsValidationError(issues: readonly z.core.$ZodIssue[]): KmsError {
  const serialization = issues.find(isSerializationIssue);
  if (serialization) {
    const expected = serialization.code === 'invalid_type' ? `expected ${serialization.expected}` : 'not valid Base64';
    return kmsError('SerializationException', `Could not read member '${memberName(serialization.path)}': ${expected}`);
  }
  const parts = issues.map((issue) => {
    const missing = issue.code === 'invalid_type' && !('input' in issue && issue.input !== undefined);
    if (missing) return `Value null at '${memberName(issue.path)}' failed to satisfy constraint: Member must not be null`;
    return `${describeValue(issue)} at '${memberName(issue.path)}' failed to satisfy constraint: ${constraintText(issue)}`;
  });
  const n = parts.length;
  return kmsError('ValidationException', `${n} validation error${n === 1 ? '' : 's'} detected: ${parts.join('; ')}`);
}

/** Parses a request body against an operation's schema or throws the AWS-shaped error. */
export function parseInput<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(stripNulls(body), { reportInput: true });
  if (!r.success) throw toKmsValidationError(r.error.issues);
  return r.data;
}
