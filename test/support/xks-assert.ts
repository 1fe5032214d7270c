import assert from 'node:assert/strict';
import type { XksResponse } from './xks-client.js';

/**
 * Asserts a spec-shaped XKS error (xks-spec §7): the status, the errorName, a JSON content
 * type, and an errorMessage (when present) of printable ASCII shorter than 512 characters.
 */
export function assertXksError(r: Pick<XksResponse, 'status' | 'body' | 'text' | 'headers'>, status: number, errorName: string, what = ''): void {
  const label = `${what ? what + ': ' : ''}${r.text.slice(0, 300)}`;
  assert.equal(r.status, status, label);
  assert.equal(r.body.errorName, errorName, label);
  assert.match(String(r.headers['content-type']), /^application\/json/, label);
  if (r.body.errorMessage !== undefined) {
    assert.equal(typeof r.body.errorMessage, 'string', label);
    assert.match(r.body.errorMessage as string, /^[\x20-\x7e]{0,511}$/, label);
  }
  assert.deepEqual(Object.keys(r.body).filter((k) => k !== 'errorName' && k !== 'errorMessage'), [], `${label}: no other fields`);
}

export function assertOk(r: Pick<XksResponse, 'status' | 'text'>, what = ''): void {
  assert.equal(r.status, 200, `${what ? what + ': ' : ''}${r.text.slice(0, 300)}`);
}

/** The four fields of an encrypt response that a decrypt needs back. */
export function ciphertextFields(r: { body: Record<string, unknown> }) {
  return {
    ciphertext: String(r.body.ciphertext),
    initializationVector: String(r.body.initializationVector),
    authenticationTag: String(r.body.authenticationTag),
    ciphertextMetadata: String(r.body.ciphertextMetadata),
  };
}
