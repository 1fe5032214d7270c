import { randomBytes } from 'node:crypto';
import { KeyholdError } from '../base/index.js';
import type { SealContext } from '../crypto/index.js';
import type { MetaRepo, Seal } from '../domain/index.js';
import type { SessionPool, TokenKeyRef } from '../hsm/index.js';
import { createHsmSeal, openHsmSeal } from './hsm-seal.js';
import { createKeyFile, createSoftwareSeal, DEFAULT_SCRYPT, deriveRootKey, readKeyFile, type ScryptParams } from './software-seal.js';

/** Which seal protects stored secrets ([seal] in keyhold.toml). */
export type SealConfig =
  | { type: 'keyfile'; keyFile: string }
  | { type: 'passphrase'; passphrase: string | undefined }
  /** Root wrapping key in the [hsm] token, found by this label. */
  | { type: 'hsm'; keyLabel: string };

/** What opening a seal needs from the configuration. */
export interface SealSettings {
  dataDir: string;
  seal: SealConfig;
  hsm?: { tokenLabel: string } | undefined;
}

/**
 * Which seal protects a data directory is recorded in storage at init (meta seal.*), with
 * a check value sealed under it, so a wrong passphrase or key file is reported as such
 * instead of as a thousand unreadable secrets.
 */
const CHECK_CTX: SealContext = { table: 'meta', id: 'seal.check', column: 'value' };
const CHECK_PLAINTEXT = Buffer.from('keyhold seal check v1');

/** Where the HSM seal's token key is recorded: its label and CKA_ID. */
const HSM_SEAL_KEY_META = 'seal.hsm_key';

function needPool(pool: SessionPool | undefined): SessionPool {
  if (!pool) throw new KeyholdError('ConfigInvalid', 'seal.type = "hsm" needs an [hsm] section');
  return pool;
}

export async function createSeal(config: SealSettings, meta: MetaRepo, pool?: SessionPool): Promise<Seal> {
  let seal: Seal;
  if (config.seal.type === 'hsm') {
    const s = await createHsmSeal(needPool(pool), config.seal.keyLabel);
    await meta.setMeta(HSM_SEAL_KEY_META, JSON.stringify(s.key));
    seal = s;
  } else if (config.seal.type === 'keyfile') {
    await createKeyFile(config.seal.keyFile);
    const key = await readKeyFile(config.seal.keyFile);
    seal = createSoftwareSeal(key, 'keyfile');
    key.fill(0);
  } else {
    const passphrase = config.seal.passphrase ?? missingPassphrase();
    const salt = randomBytes(16);
    const key = await deriveRootKey(passphrase, salt, DEFAULT_SCRYPT);
    seal = createSoftwareSeal(key, 'passphrase');
    key.fill(0);
    await meta.setMeta('seal.salt', salt.toString('base64'));
    await meta.setMeta('seal.scrypt', JSON.stringify(DEFAULT_SCRYPT));
  }
  await meta.setMeta('seal.check', (await seal.seal(CHECK_PLAINTEXT, CHECK_CTX)).toString('base64'));
  await meta.setMeta('seal.kind', config.seal.type);
  return seal;
}

export async function openSeal(config: SealSettings, meta: MetaRepo, pool?: SessionPool): Promise<Seal> {
  const kind = await meta.getMeta('seal.kind');
  if (!kind) throw new KeyholdError('SealError', `the data directory ${config.dataDir} is not initialised; run: keyhold init`);
  if (kind !== config.seal.type) {
    throw new KeyholdError('ConfigInvalid', `this database is sealed with a ${kind} seal, but the configuration says seal.type = "${config.seal.type}"`);
  }
  let seal: Seal;
  if (config.seal.type === 'hsm') {
    const ref = JSON.parse((await meta.getMeta(HSM_SEAL_KEY_META)) ?? 'null') as TokenKeyRef | null;
    if (!ref) throw new KeyholdError('SealError', 'this database records no HSM seal key');
    if (ref.label !== config.seal.keyLabel) {
      throw new KeyholdError('ConfigInvalid', `this database is sealed by token key '${ref.label}', but seal.hsm_key_label says '${config.seal.keyLabel}'`);
    }
    seal = openHsmSeal(needPool(pool), ref);
  } else if (config.seal.type === 'keyfile') {
    const key = await readKeyFile(config.seal.keyFile);
    seal = createSoftwareSeal(key, 'keyfile');
    key.fill(0);
  } else {
    const passphrase = config.seal.passphrase ?? missingPassphrase();
    const salt = Buffer.from((await meta.getMeta('seal.salt')) ?? '', 'base64');
    const params = JSON.parse((await meta.getMeta('seal.scrypt')) ?? JSON.stringify(DEFAULT_SCRYPT)) as ScryptParams;
    const key = await deriveRootKey(passphrase, salt, params);
    seal = createSoftwareSeal(key, 'passphrase');
    key.fill(0);
  }
  const check = await meta.getMeta('seal.check');
  const ok = check !== undefined && (await seal.unseal(Buffer.from(check, 'base64'), CHECK_CTX).then(
      (b) => b.equals(CHECK_PLAINTEXT),
      (e: unknown) => {
        // A token that is unreachable is not a wrong seal: say so.
        if (e instanceof KeyholdError && (e.code === 'BackendUnavailable' || e.code === 'DependencyTimeout')) throw e;
        return false;
      },
    ));
  if (!ok) {
    await seal.close?.();
    throw new KeyholdError(
      'SealError',
      config.seal.type === 'keyfile'
        ? `the seal key file ${config.seal.keyFile} does not open this database`
        : config.seal.type === 'hsm'
          ? `the HSM seal key '${config.seal.keyLabel}' in token '${config.hsm?.tokenLabel ?? '?'}' does not open this database`
          : 'the seal passphrase is wrong',
    );
  }
  return seal;
}

function missingPassphrase(): never {
  throw new KeyholdError('SealError', 'the passphrase seal needs KEYHOLD_SEAL_PASSPHRASE or KEYHOLD_SEAL_PASSPHRASE_FILE');
}
