import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startKeyhold } from './support/keyhold-harness.js';
import { demoXksClient } from './support/xks-client.js';

/**
 * kill -9 under load: every XKS request that got an answer (200 or 4xx) must have its
 * record after the restart, and the chain must still verify.
 */
test('after SIGKILL under load, every answered request has its record and the chain verifies', async () => {
  const h = await startKeyhold();
  try {
    const c = demoXksClient(h);
    const seed = await c.encrypt('demo-key', { plaintext: Buffer.from('seed') });
    assert.equal(seed.status, 200);
    const answered = new Map<string, number>();
    let failures = 0;
    let stop = false;
    let killing: Promise<void> | undefined;
    const KILL_AFTER = 300;

    async function loop(worker: number): Promise<void> {
      for (let i = 0; !stop; i++) {
        const id = `crash-${worker}-${i}`;
        const kind = i % 5;
        try {
          const r =
            kind === 3
              ? await c.decrypt('demo-key', {
                  ciphertext: String(seed.body.ciphertext),
                  initializationVector: String(seed.body.initializationVector),
                  authenticationTag: Buffer.alloc(16).toString('base64'),
                  ciphertextMetadata: String(seed.body.ciphertextMetadata),
                  md: { kmsRequestId: id },
                })
              : kind === 4
                ? await c.encrypt('no-such-key', { plaintext: Buffer.from('x'), md: { kmsRequestId: id } })
                : await c.encrypt('demo-key', { plaintext: Buffer.from(`load ${id}`), md: { kmsRequestId: id } });
          if (r.status >= 200 && r.status < 500) answered.set(id, r.status);
          if (answered.size >= KILL_AFTER && !killing) killing = h.kill();
        } catch {
          failures++; // the connection died with the server: this request was never answered
          stop = true;
        }
      }
    }

    await Promise.all(Array.from({ length: 8 }, (_, w) => loop(w)));
    await killing;
    c.close();
    assert.ok(answered.size >= KILL_AFTER);
    assert.ok([...answered.values()].some((s) => s === 400), 'some answers were errors');
    assert.ok(failures > 0, 'the kill interrupted requests in flight');

    await h.start();
    const exp = await h.cli(['audit', 'export']);
    assert.equal(exp.code, 0, exp.stderr);
    const recorded = new Map<string, number>();
    for (const line of exp.stdout.split('\n')) {
      if (!line) continue;
      const r = JSON.parse(line) as { kmsRequestId?: string; status?: number };
      if (r.kmsRequestId) recorded.set(r.kmsRequestId, r.status ?? 0);
    }
    const missing = [...answered.keys()].filter((id) => !recorded.has(id));
    assert.deepEqual(missing, [], `${missing.length} answered request(s) have no record`);
    for (const [id, status] of answered) assert.equal(recorded.get(id), status, `${id} is recorded with the status it was answered with`);

    const v = await h.json<{ ok: boolean; count: number }>(['audit', 'verify']);
    assert.equal(v.ok, true);
    assert.ok(v.count > answered.size);
  } finally {
    await h.dispose();
  }
});
