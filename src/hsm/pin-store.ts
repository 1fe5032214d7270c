/**
 * The token's user PIN: from env or file (read at config load), or stored sealed in storage
 * under a software seal (hsm.pin_sealed = true, set with `keyhold hsm set-pin`).
 */
import { KeyholdError } from '../base/index.js';
import type { SealContext } from '../crypto/index.js';
import type { MetaRepo, Seal } from '../domain/index.js';

/** Where the PIN comes from ([hsm] pin_env, pin_file or pin_sealed); env and file are read at config load. */
export type HsmPinSource =
  | { source: 'env'; name: string; value: string }
  | { source: 'file'; path: string; value: string }
  | { source: 'sealed' }
  | { source: 'none' };

export const HSM_PIN_META = 'hsm.pin';
const HSM_PIN_CTX: SealContext = { table: 'meta', id: HSM_PIN_META, column: 'value' };

/**
 * The PIN from env or file (read at config load), or unsealed from storage; null when the
 * token needs none; undefined when hsm.pin_sealed is set but no PIN was stored yet.
 */
export async function hsmPin(h: { pin: HsmPinSource }, deps: { seal?: Seal | undefined; meta: MetaRepo }): Promise<string | null | undefined> {
  switch (h.pin.source) {
    case 'env':
    case 'file':
      return h.pin.value;
    case 'none':
      return null;
    case 'sealed': {
      const stored = await deps.meta.getMeta(HSM_PIN_META);
      if (!stored) return undefined;
      if (!deps.seal) throw new KeyholdError('Internal', 'the sealed HSM PIN needs the seal open first');
      const pin = await deps.seal.unseal(Buffer.from(stored, 'base64'), HSM_PIN_CTX);
      try {
        return pin.toString('utf8');
      } finally {
        pin.fill(0);
      }
    }
  }
}

/** Stores the PIN sealed under the (software) seal, for hsm.pin_sealed = true. */
export async function storeSealedPin(seal: Seal, meta: MetaRepo, pin: string): Promise<void> {
  if (seal.kind === 'hsm') throw new KeyholdError('ConfigInvalid', 'the PIN cannot be sealed by the HSM seal it unlocks; use hsm.pin_env or hsm.pin_file');
  if (pin.length === 0 || pin.length > 255) throw new KeyholdError('ValidationFailed', 'the PIN must be 1-255 characters');
  await meta.setMeta(HSM_PIN_META, (await seal.seal(Buffer.from(pin, 'utf8'), HSM_PIN_CTX)).toString('base64'));
}

