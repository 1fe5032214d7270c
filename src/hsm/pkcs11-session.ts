/**
 * The PKCS#11 session behind one lane: synchronous pkcs11js calls answering the lane
 * protocol (pkcs11-protocol.ts). It runs on a worker thread (pkcs11-worker.ts, the default:
 * blocking that thread is the point, the event loop never waits on the module) or, for
 * tokens that answer in microseconds and cannot stall, on the calling thread
 * ([hsm] dispatch = "inline"). All lanes in the process share the module's state (dlopen
 * returns the same library), so C_Initialize and C_Login answer
 * CKR_CRYPTOKI_ALREADY_INITIALIZED / CKR_USER_ALREADY_LOGGED_IN after the first lane, which
 * is expected.
 *
 * Nothing secret is logged here; failures carry only the CK_RV and the call name.
 */
import { createRequire } from 'node:module';
import type * as Pkcs11Types from 'pkcs11js';
import { CKR, ckrName } from './ckr.js';
import type { Pkcs11Call } from './error-classifier.js';
import {
  GCM_IV_BYTES,
  GCM_TAG_BYTES,
  type KeyAttributes,
  type TokenInfo,
  type WorkerFailure,
  type WorkerMessage,
  type WorkerReply,
  type WorkerRequest,
} from './pkcs11-protocol.js';

type Pkcs11Module = typeof Pkcs11Types;
const pk = createRequire(import.meta.url)('pkcs11js') as Pkcs11Module;

class CallFailure extends Error {
  constructor(readonly failure: WorkerFailure) {
    super(failure.message);
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const handle = (h: string): Buffer => Buffer.from(h, 'hex');
const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** Runs one PKCS#11 call, turning a pkcs11js error into a classified failure. */
function p11<T>(call: Pkcs11Call, fn: () => T, tolerate: readonly number[] = []): T | undefined {
  try {
    return fn();
  } catch (e) {
    const code = typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : undefined;
    if (code !== undefined && tolerate.includes(code)) return undefined;
    if (code !== undefined && code !== 0) {
      throw new CallFailure({ call, ckr: code, message: `${call} failed: ${ckrName(code)}` });
    }
    // NativeError without a CK_RV: dlopen failure, wrong argument types, etc.
    throw new CallFailure({ call, message: `${call} failed: ${(e as Error).message}`, keyhold: 'config' });
  }
}

function must<T>(v: T | undefined, call: Pkcs11Call): T {
  if (v === undefined) throw new CallFailure({ call, message: `${call} returned nothing`, keyhold: 'internal' });
  return v;
}

function tokenInfoOf(info: Pkcs11Types.TokenInfo): TokenInfo {
  return {
    label: info.label.trimEnd(),
    manufacturer: info.manufacturerID.trimEnd(),
    model: info.model.trimEnd(),
    serialNumber: info.serialNumber.trimEnd(),
    firmware: `${info.firmwareVersion.major}.${info.firmwareVersion.minor}`,
    loginRequired: (info.flags & pk.CKF_LOGIN_REQUIRED) !== 0,
  };
}

function readBool(v: Buffer | undefined): boolean {
  return v !== undefined && v.length > 0 && v[0] !== 0;
}

function readUlong(v: Buffer | undefined): number | undefined {
  if (v === undefined || v.length === 0) return undefined;
  return v.length >= 8 ? Number(v.readBigUInt64LE(0)) : v.readUInt32LE(0);
}

/** Runs the one-shot call after a successful *Init, flagging failures that may leave it active. */
function afterInit<T>(call: Pkcs11Call, fn: () => T): T {
  try {
    return must(p11(call, fn), call);
  } catch (e) {
    if (e instanceof CallFailure && e.failure.ckr !== CKR.BUFFER_TOO_SMALL) e.failure.operationMayBeActive = true;
    throw e;
  }
}

function gcmMechanism(iv: Buffer, aad: Uint8Array): Pkcs11Types.Mechanism {
  // CK_GCM_PARAMS with ulIvBits (the pkcs11t.h layout of v2.40 and v3.0).
  const params: Pkcs11Types.GcmParams = { type: pk.CK_PARAMS_GCM, iv, ivBits: iv.length * 8, aad: buf(aad), tagBits: GCM_TAG_BYTES * 8 };
  return { mechanism: pk.CKM_AES_GCM, parameter: params };
}

const OP_CALL: Record<WorkerRequest['op'], Pkcs11Call> = {
  open: 'open',
  close: 'close',
  finalize: 'initialize',
  tokenInfo: 'tokenInfo',
  find: 'find',
  attributes: 'attributes',
  generate: 'generate',
  random: 'random',
  encrypt: 'encrypt',
  decrypt: 'decrypt',
};

export interface Pkcs11SessionHandler {
  /** Runs one lane request to completion; never throws (failures are replies). */
  run(msg: WorkerMessage): WorkerReply;
}

/** One lane's session state (module, slot, session) and the calls on it. */
export function createPkcs11SessionHandler(): Pkcs11SessionHandler {
  let lib: Pkcs11Types.PKCS11 | undefined;
  let loadedPath: string | undefined;
  let slot: Buffer | undefined;
  let session: Buffer | undefined;

  function requireLib(call: Pkcs11Call): Pkcs11Types.PKCS11 {
    if (!lib) throw new CallFailure({ call, message: `${call} failed: module not loaded`, ckr: CKR.CRYPTOKI_NOT_INITIALIZED });
    return lib;
  }

  function requireSession(call: Pkcs11Call): { l: Pkcs11Types.PKCS11; s: Buffer } {
    const l = requireLib(call);
    if (!session) throw new CallFailure({ call, message: `${call} failed: no open session`, ckr: CKR.SESSION_HANDLE_INVALID });
    return { l, s: session };
  }

  function load(modulePath: string): Pkcs11Types.PKCS11 {
    if (!lib || loadedPath !== modulePath) {
      const l = new pk.PKCS11();
      p11('initialize', () => l.load(modulePath));
      lib = l;
      loadedPath = modulePath;
    }
    return lib;
  }

  function open(modulePath: string, tokenLabel: string, pin: string | null, closePrevious: boolean): { slot: string; session: string; token: TokenInfo } {
    const l = load(modulePath);
    if (closePrevious) closeQuietly();
    else session = undefined;
    p11('initialize', () => l.C_Initialize({ flags: pk.CKF_OS_LOCKING_OK }), [CKR.CRYPTOKI_ALREADY_INITIALIZED]);
    // Slot ids change when tokens are added or re-initialised; the label is what stays.
    const slots = must(p11('open', () => l.C_GetSlotList(true)), 'open');
    const matches: { slot: Buffer; info: TokenInfo }[] = [];
    for (const s of slots) {
      const info = p11('tokenInfo', () => l.C_GetTokenInfo(s), [CKR.TOKEN_NOT_PRESENT, CKR.GENERAL_ERROR, CKR.TOKEN_NOT_RECOGNIZED]);
      if (info && info.label.trimEnd() === tokenLabel) matches.push({ slot: s, info: tokenInfoOf(info) });
    }
    if (matches.length === 0) {
      throw new CallFailure({ call: 'open', tokenMissing: true, message: `no token labelled '${tokenLabel}' is present` });
    }
    if (matches.length > 1) {
      throw new CallFailure({ call: 'open', keyhold: 'config', message: `${matches.length} tokens are labelled '${tokenLabel}'; labels must be unique` });
    }
    const m = matches[0]!;
    const s = must(p11('open', () => l.C_OpenSession(m.slot, pk.CKF_SERIAL_SESSION | pk.CKF_RW_SESSION)), 'open');
    if (m.info.loginRequired) {
      if (pin === null) {
        p11('close', () => l.C_CloseSession(s), [CKR.SESSION_HANDLE_INVALID, CKR.SESSION_CLOSED]);
        throw new CallFailure({ call: 'login', keyhold: 'config', message: `token '${tokenLabel}' requires a user PIN and none is configured` });
      }
      try {
        p11('login', () => l.C_Login(s, pk.CKU_USER, pin), [CKR.USER_ALREADY_LOGGED_IN]);
      } catch (e) {
        p11('close', () => l.C_CloseSession(s), [CKR.SESSION_HANDLE_INVALID, CKR.SESSION_CLOSED]);
        throw e;
      }
    }
    slot = m.slot;
    session = s;
    return { slot: hex(m.slot), session: hex(s), token: m.info };
  }

  function closeQuietly(): void {
    if (lib && session) {
      const l = lib;
      const s = session;
      try {
        l.C_CloseSession(s);
      } catch {
        // The session may already be gone (token removed, module finalized); nothing to do.
      }
    }
    session = undefined;
  }

  function finalize(modulePath: string): null {
    closeQuietly();
    slot = undefined;
    const l = load(modulePath);
    p11('initialize', () => l.C_Finalize(), [CKR.CRYPTOKI_NOT_INITIALIZED]);
    return null;
  }

  function tokenInfo(): TokenInfo {
    const l = requireLib('tokenInfo');
    if (!slot) throw new CallFailure({ call: 'tokenInfo', ckr: CKR.SESSION_HANDLE_INVALID, message: 'tokenInfo failed: no slot selected' });
    const s = slot;
    return tokenInfoOf(must(p11('tokenInfo', () => l.C_GetTokenInfo(s)), 'tokenInfo'));
  }

  function find(label: string, idHex: string | undefined): string[] {
    const { l, s } = requireSession('find');
    const template: Pkcs11Types.Template = [
      { type: pk.CKA_CLASS, value: pk.CKO_SECRET_KEY },
      { type: pk.CKA_TOKEN, value: true },
      { type: pk.CKA_LABEL, value: label },
    ];
    if (idHex !== undefined) template.push({ type: pk.CKA_ID, value: Buffer.from(idHex, 'hex') });
    p11('find', () => l.C_FindObjectsInit(s, template));
    try {
      // Two are enough to tell "unique" from "ambiguous".
      return must(p11('find', () => l.C_FindObjects(s, 2)), 'find').map(hex);
    } finally {
      p11('find', () => l.C_FindObjectsFinal(s), [CKR.OPERATION_NOT_INITIALIZED]);
    }
  }

  function attributes(h: string): KeyAttributes {
    const { l, s } = requireSession('attributes');
    const obj = handle(h);
    // Ask one attribute at a time: a module may refuse the whole template when one attribute
    // is unknown to it, and a refused optional attribute must not hide the others.
    const get = (type: number): Buffer | undefined => {
      const r = p11('attributes', () => l.C_GetAttributeValue(s, obj, [{ type }]), [CKR.ATTRIBUTE_TYPE_INVALID, CKR.ATTRIBUTE_SENSITIVE]);
      return r?.[0]?.value;
    };
    return {
      handle: h,
      label: (get(pk.CKA_LABEL) ?? Buffer.alloc(0)).toString('utf8'),
      idHex: (get(pk.CKA_ID) ?? Buffer.alloc(0)).toString('hex'),
      objectClass: readUlong(get(pk.CKA_CLASS)) ?? -1,
      keyType: readUlong(get(pk.CKA_KEY_TYPE)) ?? -1,
      valueLen: readUlong(get(pk.CKA_VALUE_LEN)),
      encrypt: readBool(get(pk.CKA_ENCRYPT)),
      decrypt: readBool(get(pk.CKA_DECRYPT)),
      wrap: readBool(get(pk.CKA_WRAP)),
      unwrap: readBool(get(pk.CKA_UNWRAP)),
      sign: readBool(get(pk.CKA_SIGN)),
      verify: readBool(get(pk.CKA_VERIFY)),
      derive: readBool(get(pk.CKA_DERIVE)),
      sensitive: readBool(get(pk.CKA_SENSITIVE)),
      extractable: readBool(get(pk.CKA_EXTRACTABLE)),
      token: readBool(get(pk.CKA_TOKEN)),
    };
  }

  function generate(label: string, idHex: string): string {
    const { l, s } = requireSession('generate');
    // AES-256 that never leaves the token: sensitive, not extractable, and usable for
    // encrypt/decrypt only (no wrap, unwrap, sign, verify or derive).
    const template: Pkcs11Types.Template = [
      { type: pk.CKA_CLASS, value: pk.CKO_SECRET_KEY },
      { type: pk.CKA_KEY_TYPE, value: pk.CKK_AES },
      { type: pk.CKA_VALUE_LEN, value: 32 },
      { type: pk.CKA_TOKEN, value: true },
      { type: pk.CKA_PRIVATE, value: true },
      { type: pk.CKA_SENSITIVE, value: true },
      { type: pk.CKA_EXTRACTABLE, value: false },
      { type: pk.CKA_ENCRYPT, value: true },
      { type: pk.CKA_DECRYPT, value: true },
      { type: pk.CKA_WRAP, value: false },
      { type: pk.CKA_UNWRAP, value: false },
      { type: pk.CKA_SIGN, value: false },
      { type: pk.CKA_VERIFY, value: false },
      { type: pk.CKA_DERIVE, value: false },
      { type: pk.CKA_LABEL, value: label },
      { type: pk.CKA_ID, value: Buffer.from(idHex, 'hex') },
    ];
    return hex(must(p11('generate', () => l.C_GenerateKey(s, { mechanism: pk.CKM_AES_KEY_GEN }, template)), 'generate'));
  }

  function random(length: number): Uint8Array {
    const { l, s } = requireSession('random');
    return must(p11('random', () => l.C_GenerateRandom(s, Buffer.alloc(length))), 'random');
  }

  function encrypt(req: Extract<WorkerRequest, { op: 'encrypt' }>): { iv: Uint8Array; ciphertext: Uint8Array; tag: Uint8Array } {
    const { l, s } = requireSession('encrypt');
    if (req.plaintext.length === 0) throw new CallFailure({ call: 'encrypt', keyhold: 'input', message: 'encrypt needs at least one byte of plaintext' });
    let iv: Buffer;
    switch (req.ivStrategy) {
      case 'caller':
        iv = req.iv ? Buffer.from(req.iv) : must(p11('random', () => l.C_GenerateRandom(s, Buffer.alloc(GCM_IV_BYTES))), 'random');
        break;
      case 'token-zero-buffer':
        iv = Buffer.alloc(GCM_IV_BYTES);
        break;
      case 'token-appends':
        iv = Buffer.alloc(0);
        break;
    }
    const key = handle(req.handle);
    const pt = buf(req.plaintext);
    p11('encrypt', () => l.C_EncryptInit(s, gcmMechanism(iv, req.aad), key));
    // Room for the tag and, for tokens that append it, an IV of up to 16 bytes.
    const out = afterInit('encrypt', () => l.C_Encrypt(s, pt, Buffer.alloc(pt.length + GCM_TAG_BYTES + 16)));
    const ciphertext = Buffer.from(out.subarray(0, pt.length));
    const tag = Buffer.from(out.subarray(pt.length, pt.length + GCM_TAG_BYTES));
    if (tag.length !== GCM_TAG_BYTES) {
      throw new CallFailure({ call: 'encrypt', keyhold: 'internal', message: `token returned ${out.length} bytes for ${pt.length} bytes of plaintext` });
    }
    if (req.ivStrategy === 'token-appends') {
      const appended = out.subarray(pt.length + GCM_TAG_BYTES);
      if (appended.length !== 12 && appended.length !== 16) {
        throw new CallFailure({
          call: 'encrypt',
          keyhold: 'config',
          message: `iv_strategy 'token-appends' but the token appended ${appended.length} IV bytes; this token needs another iv_strategy`,
        });
      }
      iv = Buffer.from(appended);
    } else if (req.ivStrategy === 'token-zero-buffer' && iv.every((b) => b === 0)) {
      // A token that ignores the request and encrypts under the zero IV would repeat the IV
      // on every call, which breaks GCM. Refuse rather than return that ciphertext.
      throw new CallFailure({
        call: 'encrypt',
        keyhold: 'config',
        message: "iv_strategy 'token-zero-buffer' but the token left the IV buffer zeroed; this token needs iv_strategy 'caller'",
      });
    }
    return { iv, ciphertext, tag };
  }

  function decrypt(req: Extract<WorkerRequest, { op: 'decrypt' }>): Uint8Array {
    const { l, s } = requireSession('decrypt');
    if (req.ciphertext.length === 0) throw new CallFailure({ call: 'decrypt', keyhold: 'input', message: 'decrypt needs at least one byte of ciphertext' });
    const key = handle(req.handle);
    const input = Buffer.concat([req.ciphertext, req.tag]);
    p11('decrypt', () => l.C_DecryptInit(s, gcmMechanism(Buffer.from(req.iv), req.aad), key));
    const out = afterInit('decrypt', () => l.C_Decrypt(s, input, Buffer.alloc(input.length)));
    return Buffer.from(out);
  }

  function handleRequest(req: WorkerRequest): unknown {
    switch (req.op) {
      case 'open':
        return open(req.modulePath, req.tokenLabel, req.pin, req.closePrevious);
      case 'close':
        closeQuietly();
        return null;
      case 'finalize':
        return finalize(req.modulePath);
      case 'tokenInfo':
        return tokenInfo();
      case 'find':
        return find(req.label, req.idHex);
      case 'attributes':
        return attributes(req.handle);
      case 'generate':
        return generate(req.label, req.idHex);
      case 'random':
        return random(req.length);
      case 'encrypt':
        return encrypt(req);
      case 'decrypt':
        return decrypt(req);
    }
  }

  return {
    run(msg: WorkerMessage): WorkerReply {
      const { id, ...req } = msg;
      try {
        return { id, ok: true, result: handleRequest(req as WorkerRequest) };
      } catch (e) {
        const failure: WorkerFailure =
          e instanceof CallFailure ? e.failure : { call: OP_CALL[(req as WorkerRequest).op], keyhold: 'internal', message: (e as Error).message };
        return { id, ok: false, failure };
      }
    },
  };
}
