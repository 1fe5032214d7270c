/**
 * Wiring for the PKCS#11 token: one session pool per process (shared by the HSM key backend
 * and the HSM seal, since a re-initialisation of the module affects every session in the
 * process). The PIN comes from src/hsm/pin-store.ts.
 */
import type { Logger } from '../base/index.js';
import { createSessionPool, type SessionPool } from '../hsm/index.js';
import type { HsmConfig } from './hsm-config.js';

export function openHsmPool(h: HsmConfig, pin: string | null, log?: Logger): SessionPool {
  return createSessionPool({
    modulePath: h.module,
    tokenLabel: h.tokenLabel,
    pin,
    maxSessions: h.sessions,
    callTimeoutMs: h.timeoutMs,
    profile: h.profile,
    dispatch: h.dispatch,
    // Events name the token and the CK_RV, never data or the PIN.
    onEvent: (e) => log?.warn({ event: `hsm_${e.type.replace(/-/g, '_')}`, token: h.tokenLabel, ...e }, 'HSM session pool'),
  });
}
