import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:https';
import { startKeyhold, type KeyholdHarness } from './support/keyhold-harness.js';
import { demoXksClient, sealedFields } from './support/xks-client.js';

/**
 * The listener writes answers together once per event-loop turn (answers that waited for an
 * audit commit go out as that commit releases them). Many calls arriving at once, each on its
 * own connection, must each get their own answer: right status, right ciphertext for their
 * plaintext and AAD, errors where they belong. Run once with the durable audit log (answers
 * released by commits) and once with audit records queued (answers batched per turn).
 */
/**
 * Load shedding is off: 48 handshakes and calls at once on a loaded 2-core machine can make
 * the overload guard answer 429 (tested on its own in xks-load-shedding), and what is checked
 * here is whose answer each call gets, not whether it was served.
 */
const NO_SHEDDING = '[xks]\nload_shedding = false\n';

async function concurrentCalls(h: KeyholdHarness): Promise<void> {
  const c = demoXksClient(h);
  const agents: Agent[] = [];
  try {
    const n = 48;
    const calls = Array.from({ length: n }, async (_, i) => {
      const agent = new Agent({ ca: h.caPem, keepAlive: true });
      agents.push(agent);
      const plaintext = Buffer.from(`data key number ${i} `.padEnd(32, '.'));
      const aad = Buffer.from(`aad-${i}`);
      // Every fourth call names a key that does not exist: its answer is an error, not someone else's ciphertext.
      const key = i % 4 === 3 ? `no-such-key-${i}` : 'demo-key';
      const e = await c.encrypt(key, { plaintext, aad }, { agent });
      return { i, key, plaintext, aad, e };
    });
    const results = await Promise.all(calls);
    for (const { i, key, plaintext, aad, e } of results) {
      if (key !== 'demo-key') {
        assert.equal(e.status, 404, `call ${i}: ${e.text}`);
        assert.equal(e.body.errorName, 'KeyNotFoundException', `call ${i}`);
        assert.match(String(e.body.errorMessage), new RegExp(`'${key}'`), `call ${i} got its own error`);
        continue;
      }
      assert.equal(e.status, 200, `call ${i}: ${e.text}`);
      const d = await c.decrypt('demo-key', { ...sealedFields(e), aad });
      assert.equal(d.status, 200, `call ${i}: ${d.text}`);
      assert.equal(Buffer.from(String(d.body.plaintext), 'base64').toString(), plaintext.toString(), `call ${i} got its own answer`);
    }
  } finally {
    for (const a of agents) a.destroy();
    c.close();
  }
}

test('concurrent calls on separate connections each get their own answer (durable audit)', async () => {
  const h = await startKeyhold({ config: NO_SHEDDING });
  try {
    await concurrentCalls(h);
  } finally {
    await h.dispose();
  }
});

test('concurrent calls on separate connections each get their own answer (answers batched per turn)', async () => {
  const h = await startKeyhold({ config: NO_SHEDDING, env: { KEYHOLD_AUDIT_DURABLE: 'false' } });
  try {
    await concurrentCalls(h);
  } finally {
    await h.dispose();
  }
});
