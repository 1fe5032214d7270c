/**
 * What differs between PKCS#11 vendors, as flags rather than `if (vendor === …)` branches.
 * A profile names a set of defaults; config may override single flags.
 */
import { CKR } from './ckr.js';

/**
 * Where the AES-GCM IV comes from on encrypt (decrypt always passes the IV it was given).
 * - caller: Keyhold makes a fresh 12-byte IV (host CSPRNG or the token's C_GenerateRandom)
 *   and passes it in CK_GCM_PARAMS.pIv.
 * - token-zero-buffer: Keyhold passes a 12-byte all-zero buffer; the token ignores it,
 *   generates the IV and writes it back into pIv.
 * - token-appends: Keyhold passes no IV (ulIvLen 0); the token generates one and returns
 *   it after the tag: output = ciphertext ‖ tag ‖ IV.
 */
export type IvStrategy = 'caller' | 'token-zero-buffer' | 'token-appends';
export const IV_STRATEGIES: readonly IvStrategy[] = ['caller', 'token-zero-buffer', 'token-appends'];

export type CallerIvSource = 'host' | 'token';

export interface CapabilityProfile {
  readonly name: string;
  readonly ivStrategy: IvStrategy;
  /** Only for ivStrategy 'caller': Node's CSPRNG, or the token's RNG (one more call). */
  readonly callerIvSource: CallerIvSource;
  /**
   * CK_RV values that C_Decrypt returns when the GCM tag does not verify. The standard answer
   * is CKR_ENCRYPTED_DATA_INVALID; SoftHSM2 2.6 answers CKR_GENERAL_ERROR. These are data
   * errors (InvalidCiphertext, session kept), not device failures.
   */
  readonly tagMismatchCodes: readonly number[];
  /** Largest plaintext or ciphertext one C_Encrypt / C_Decrypt call accepts, if limited. */
  readonly maxDataBytes: number | undefined;
  /**
   * Where PKCS#11 calls run unless [hsm] dispatch says otherwise. 'inline' (on the event
   * loop) only for a token in this process that cannot stall on a network or a device:
   * SoftHSM2. Every network or PCIe HSM keeps 'threads', so a slow or hung token never
   * blocks the requests for other keys (docs/hsm.md).
   */
  readonly dispatch: 'threads' | 'inline';
  /** One line for `keyhold status` and the docs. */
  readonly notes: string;
}

const STANDARD_TAG_MISMATCH = [CKR.ENCRYPTED_DATA_INVALID, CKR.ENCRYPTED_DATA_LEN_RANGE];

export const PROFILES = {
  softhsm2: {
    name: 'softhsm2',
    dispatch: 'inline',
    ivStrategy: 'caller',
    callerIvSource: 'host',
    tagMismatchCodes: [...STANDARD_TAG_MISMATCH, CKR.GENERAL_ERROR],
    maxDataBytes: undefined,
    notes: 'SoftHSM2 uses the IV it is given; it never generates one. A bad tag answers CKR_GENERAL_ERROR.',
  },
  nshield: {
    name: 'nshield',
    dispatch: 'threads',
    ivStrategy: 'token-zero-buffer',
    callerIvSource: 'token',
    tagMismatchCodes: STANDARD_TAG_MISMATCH,
    maxDataBytes: undefined,
    notes: 'nShield generates the GCM IV itself and writes it into the zeroed pIv buffer.',
  },
  luna: {
    name: 'luna',
    dispatch: 'threads',
    ivStrategy: 'token-appends',
    callerIvSource: 'token',
    tagMismatchCodes: STANDARD_TAG_MISMATCH,
    maxDataBytes: undefined,
    notes: 'Luna generates the IV when none is passed and appends it after the tag (required in FIPS mode).',
  },
  cloudhsm: {
    name: 'cloudhsm',
    dispatch: 'threads',
    ivStrategy: 'token-zero-buffer',
    callerIvSource: 'token',
    tagMismatchCodes: STANDARD_TAG_MISMATCH,
    maxDataBytes: 16 * 1024,
    notes: 'CloudHSM ignores the IV passed in, requires it zeroed, and writes its own into pIv; GCM buffers are limited to 16 KB.',
  },
  fortanix: {
    name: 'fortanix',
    dispatch: 'threads',
    ivStrategy: 'caller',
    callerIvSource: 'host',
    tagMismatchCodes: STANDARD_TAG_MISMATCH,
    maxDataBytes: undefined,
    notes: 'Fortanix DSM PKCS#11 client: standard CKM_AES_GCM with a caller-supplied IV.',
  },
  generic: {
    name: 'generic',
    dispatch: 'threads',
    ivStrategy: 'caller',
    callerIvSource: 'token',
    tagMismatchCodes: STANDARD_TAG_MISMATCH,
    maxDataBytes: undefined,
    notes: 'PKCS#11 v2.40 behaviour: caller-supplied IV from the token RNG.',
  },
} as const satisfies Record<string, CapabilityProfile>;

export type ProfileName = keyof typeof PROFILES;
export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

export interface ProfileOverrides {
  ivStrategy?: IvStrategy | undefined;
  callerIvSource?: CallerIvSource | undefined;
  tagMismatchCodes?: readonly number[] | undefined;
  maxDataBytes?: number | undefined;
}

export function resolveProfile(name: ProfileName, overrides: ProfileOverrides = {}): CapabilityProfile {
  const base: CapabilityProfile = PROFILES[name];
  return Object.freeze({
    ...base,
    ivStrategy: overrides.ivStrategy ?? base.ivStrategy,
    callerIvSource: overrides.callerIvSource ?? base.callerIvSource,
    tagMismatchCodes: Object.freeze([...(overrides.tagMismatchCodes ?? base.tagMismatchCodes)]),
    maxDataBytes: overrides.maxDataBytes ?? base.maxDataBytes,
  });
}
