import { createSessionPool, resolveProfile, type SessionPool } from '../src/hsm/index.js';
import { createHsmSeal, openSeal } from '../src/seal/index.js';
import { sealConformance } from './seal-conformance.js';
import { createSoftHsm } from './support/softhsm.js';

const hsm = createSoftHsm();
process.on('exit', () => hsm.cleanup());

function pool(tokenLabel: string, userPin: string): SessionPool {
  return createSessionPool({ modulePath: hsm.module, tokenLabel, pin: userPin, maxSessions: 2, callTimeoutMs: 5000, profile: resolveProfile('softhsm2'), dispatch: 'inline' });
}

sealConformance('HSM (SoftHSM2)', async () => {
  const token = hsm.addToken();
  const p = pool(token.label, token.userPin);
  // Another token with a seal key of the same label: the same configuration, the wrong key.
  const otherToken = hsm.addToken();
  const other = pool(otherToken.label, otherToken.userPin);
  return {
    kind: 'hsm',
    settings: { dataDir: '/unused', seal: { type: 'hsm', keyLabel: 'keyhold-seal' }, hsm: { tokenLabel: token.label } },
    pool: p,
    async openWrong(meta) {
      const s = await createHsmSeal(other, 'keyhold-seal');
      await s.close?.();
      return openSeal({ dataDir: '/unused', seal: { type: 'hsm', keyLabel: 'keyhold-seal' }, hsm: { tokenLabel: otherToken.label } }, meta, other);
    },
    async close() {
      await p.close();
      await other.close();
    },
  };
});
