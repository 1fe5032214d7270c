import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { startKeyhold, type KeyholdHarness } from './support/keyhold-harness.js';
import { demoXksClient, type XksClient } from './support/xks-client.js';

let h: KeyholdHarness;
let c: XksClient;

before(async () => {
  h = await startKeyhold();
  c = demoXksClient(h);
});

after(async () => {
  c?.close();
  await h?.dispose();
});

/** Sends a body in chunks (no content-length), so the limit is found while reading. */
function chunked(path: string, chunks: Buffer[]): Promise<{ status: number; text: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: 'localhost', port: h.port, method: 'POST', path, ca: h.caPem, headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, connection: res.headers.connection }));
    });
    r.on('error', reject);
    for (const ch of chunks) r.write(ch);
    r.end();
  });
}

test('a declared body over max_body_bytes is UnsupportedOperationException and closes the connection', async () => {
  const r = await c.send(c.path('/keys/demo-key/encrypt'), { body: 'x'.repeat(70_000) });
  assert.equal(r.status, 501);
  assert.equal(r.body.errorName, 'UnsupportedOperationException');
  assert.equal(r.headers.connection, 'close');
});

test('a chunked body that grows over max_body_bytes is refused the same way', async () => {
  const r = await chunked(c.path('/keys/demo-key/encrypt'), Array.from({ length: 10 }, () => Buffer.alloc(8192, 0x20)));
  assert.equal(r.status, 501, r.text);
  assert.equal((JSON.parse(r.text) as { errorName: string }).errorName, 'UnsupportedOperationException');
  assert.equal(r.connection, 'close');
});

test('a chunked body under the limit is read whole (and then fails SigV4, being unsigned)', async () => {
  const r = await chunked(c.path('/keys/demo-key/encrypt'), [Buffer.from('{"a":'), Buffer.from('1}')]);
  assert.equal(r.status, 401);
  assert.equal((JSON.parse(r.text) as { errorName: string }).errorName, 'AuthenticationFailedException');
});
