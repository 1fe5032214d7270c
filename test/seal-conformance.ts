/**
 * One behaviour suite for every seal (style.md, example 10): the key-file, passphrase and
 * HSM seals run the same assertions, through createSeal/openSeal as `keyhold init` and
 * `keyhold start` use them. Each implementation's test file calls `sealConformance` with a
 * fixture.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isKeyholdError } from '../src/base/index.js';
import type { SealContext } from '../src/crypto/index.js';
import type { MetaRepo, Seal } from '../src/domain/index.js';
import type { SessionPool } from '../src/hsm/index.js';
import { createSeal, openSeal, type SealSettings } from '../src/seal/index.js';

export interface SealFixture {
  kind: 'keyfile' | 'passphrase' | 'hsm';
  settings: SealSettings;
  pool?: SessionPool;
  /** Opens the same database with the wrong secret (another key file, passphrase or token). */
  openWrong(meta: MetaRepo): Promise<Seal>;
  close(): Promise<void>;
}

export function memoryMeta(): MetaRepo & { rows: Map<string, string> } {
  const rows = new Map<string, string>();
  return { rows, getMeta: async (n) => rows.get(n), setMeta: async (n, v) => void rows.set(n, v) };
}

const isSealError = (e: unknown) => isKeyholdError(e, 'SealError');

export function sealConformance(name: string, setup: () => Promise<SealFixture>): void {
  describe(`seal conformance: ${name}`, () => {
    let fx: SealFixture;
    let meta: ReturnType<typeof memoryMeta>;
    let seal: Seal;
    const ctx: SealContext = { table: 'credentials', id: 'c-1', column: 'secret' };

    before(async () => {
      fx = await setup();
      meta = memoryMeta();
      seal = await createSeal(fx.settings, meta, fx.pool);
    });
    after(async () => {
      await seal?.close?.();
      await fx.close();
    });

    test('reports its kind and records it with a check value', async () => {
      assert.equal(seal.kind, fx.kind);
      assert.equal(meta.rows.get('seal.kind'), fx.kind);
      assert.ok(meta.rows.get('seal.check'));
    });

    test('unseals what it sealed, and the sealed bytes hold no plaintext', async () => {
      const secret = randomBytes(48);
      const sealed = await seal.seal(secret, ctx);
      assert.ok(!sealed.includes(secret.subarray(0, 16)));
      assert.deepEqual(await seal.unseal(sealed, ctx), secret);
    });

    test('seals the same value twice to different bytes (fresh nonce)', async () => {
      const v = Buffer.from('same value');
      assert.notDeepEqual(await seal.seal(v, ctx), await seal.seal(v, ctx));
    });

    test('refuses a sealed value moved to another row or column (the place is the AAD)', async () => {
      const sealed = await seal.seal(Buffer.from('bound to its place'), ctx);
      await assert.rejects(seal.unseal(sealed, { ...ctx, id: 'c-2' }), isSealError);
      await assert.rejects(seal.unseal(sealed, { ...ctx, column: 'other' }), isSealError);
    });

    test('refuses a sealed value with one byte altered, truncated, or not a sealed value at all', async () => {
      const sealed = await seal.seal(Buffer.from('tamper me'), ctx);
      for (const i of [0, 5, sealed.length - 1]) {
        const bad = Buffer.from(sealed);
        bad[i] = bad[i]! ^ 0x01;
        await assert.rejects(seal.unseal(bad, ctx), isSealError, `byte ${i}`);
      }
      await assert.rejects(seal.unseal(sealed.subarray(0, sealed.length - 1), ctx), isSealError);
      await assert.rejects(seal.unseal(Buffer.alloc(0), ctx), isSealError);
      await assert.rejects(seal.unseal(randomBytes(40), ctx), isSealError);
    });

    test('a reopened seal (as at the next start) unseals what the first one sealed', async () => {
      const sealed = await seal.seal(Buffer.from('survives a restart'), ctx);
      const again = await openSeal(fx.settings, meta, fx.pool);
      try {
        assert.equal(again.kind, fx.kind);
        assert.deepEqual(await again.unseal(sealed, ctx), Buffer.from('survives a restart'));
      } finally {
        await again.close?.();
      }
    });

    test('the wrong secret is reported as such when the seal opens, before any value is read', async () => {
      await assert.rejects(fx.openWrong(meta), (e: unknown) => isSealError(e) && /does not open this database|passphrase is wrong/.test((e as Error).message));
    });

    test('a configuration naming another seal type is refused', async () => {
      const other: SealSettings = { ...fx.settings, seal: fx.kind === 'keyfile' ? { type: 'passphrase', passphrase: 'a passphrase long enough' } : { type: 'keyfile', keyFile: '/nonexistent/seal.key' } };
      await assert.rejects(openSeal(other, meta, fx.pool), (e: unknown) => isKeyholdError(e, 'ConfigInvalid'));
    });

    test('an uninitialised database is refused', async () => {
      await assert.rejects(openSeal(fx.settings, memoryMeta(), fx.pool), isSealError);
    });
  });
}
