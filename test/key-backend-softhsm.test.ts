import { createHsmKeyBackend } from '../src/backends/index.js';
import { createSessionPool, resolveProfile } from '../src/hsm/index.js';
import { keyBackendConformance } from './key-backend-conformance.js';
import { createSoftHsm } from './support/softhsm.js';

const hsm = createSoftHsm();
process.on('exit', () => hsm.cleanup());

const setups = [
  { callerIvSource: 'host', dispatch: 'threads' },
  { callerIvSource: 'token', dispatch: 'threads' },
  { callerIvSource: 'host', dispatch: 'inline' },
] as const;

for (const { callerIvSource, dispatch } of setups) {
  keyBackendConformance(`SoftHSM2 keys (IV from the ${callerIvSource === 'host' ? 'host CSPRNG' : "token's RNG"}, calls on ${dispatch === 'threads' ? 'worker threads' : 'the event loop'})`, 'hsm', async () => {
    const token = hsm.addToken();
    const pool = createSessionPool({
      modulePath: hsm.module,
      tokenLabel: token.label,
      pin: token.userPin,
      maxSessions: 4,
      callTimeoutMs: 2000,
      profile: resolveProfile('softhsm2', { callerIvSource }),
      dispatch,
    });
    const backend = createHsmKeyBackend({ pool });
    await backend.ensureHealthKey();
    return {
      backend,
      async close() {
        await backend.close?.();
        await pool.close();
      },
    };
  });
}
