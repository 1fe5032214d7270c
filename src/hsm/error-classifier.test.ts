import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CKR, ckrName } from './ckr.js';
import { classifyPkcs11Error } from './error-classifier.js';
import { PROFILES, resolveProfile } from './capability-profile.js';

const standard = PROFILES.generic.tagMismatchCodes;
const softhsm = PROFILES.softhsm2.tagMismatchCodes;

test('keeps the session after data errors', () => {
  for (const code of [CKR.ENCRYPTED_DATA_INVALID, CKR.ENCRYPTED_DATA_LEN_RANGE, CKR.DATA_INVALID, CKR.DATA_LEN_RANGE, CKR.KEY_FUNCTION_NOT_PERMITTED]) {
    assert.equal(classifyPkcs11Error(code, 'decrypt', standard), 'data', ckrName(code));
  }
});

test('drops the session after session errors', () => {
  for (const code of [CKR.SESSION_HANDLE_INVALID, CKR.SESSION_CLOSED, CKR.OPERATION_ACTIVE, CKR.OPERATION_NOT_INITIALIZED, CKR.USER_NOT_LOGGED_IN]) {
    assert.equal(classifyPkcs11Error(code, 'encrypt', standard), 'session', ckrName(code));
  }
});

test('re-initialises the module after device errors', () => {
  for (const code of [CKR.DEVICE_REMOVED, CKR.DEVICE_ERROR, CKR.TOKEN_NOT_PRESENT, CKR.CRYPTOKI_NOT_INITIALIZED, CKR.GENERAL_ERROR]) {
    assert.equal(classifyPkcs11Error(code, 'encrypt', standard), 'device', ckrName(code));
  }
});

test("a SoftHSM2 bad tag (CKR_GENERAL_ERROR from C_Decrypt) is a data error, not a device failure", () => {
  assert.equal(classifyPkcs11Error(CKR.GENERAL_ERROR, 'decrypt', softhsm), 'data');
  assert.equal(classifyPkcs11Error(CKR.GENERAL_ERROR, 'encrypt', softhsm), 'device');
  assert.equal(classifyPkcs11Error(CKR.GENERAL_ERROR, 'decrypt', standard), 'device');
});

test('a refused PIN stops logins; the same code elsewhere only drops the session', () => {
  for (const code of [CKR.PIN_INCORRECT, CKR.PIN_LOCKED, CKR.PIN_EXPIRED]) assert.equal(classifyPkcs11Error(code, 'login', standard), 'login');
  assert.equal(classifyPkcs11Error(CKR.PIN_INCORRECT, 'encrypt', standard), 'session');
  assert.equal(classifyPkcs11Error(CKR.USER_PIN_NOT_INITIALIZED, 'login', standard), 'config');
});

test('stale object handles are their own class', () => {
  assert.equal(classifyPkcs11Error(CKR.OBJECT_HANDLE_INVALID, 'find', standard), 'object');
  assert.equal(classifyPkcs11Error(CKR.KEY_HANDLE_INVALID, 'encrypt', standard), 'object');
});

test('unsupported mechanisms and parameters are configuration problems; unknown codes drop the session', () => {
  assert.equal(classifyPkcs11Error(CKR.MECHANISM_PARAM_INVALID, 'encrypt', standard), 'config');
  assert.equal(classifyPkcs11Error(CKR.MECHANISM_INVALID, 'encrypt', standard), 'config');
  assert.equal(classifyPkcs11Error(0x80000001, 'encrypt', standard), 'session');
  assert.equal(ckrName(0x80000001), 'CKR_0x80000001');
});

test('profiles carry the IV strategy real HSMs need, and overrides replace single flags', () => {
  assert.equal(PROFILES.softhsm2.ivStrategy, 'caller');
  assert.equal(PROFILES.cloudhsm.ivStrategy, 'token-zero-buffer');
  assert.equal(PROFILES.nshield.ivStrategy, 'token-zero-buffer');
  assert.equal(PROFILES.luna.ivStrategy, 'token-appends');
  assert.equal(PROFILES.cloudhsm.maxDataBytes, 16384);
  const p = resolveProfile('luna', { ivStrategy: 'caller', callerIvSource: 'host' });
  assert.deepEqual({ name: p.name, iv: p.ivStrategy, src: p.callerIvSource }, { name: 'luna', iv: 'caller', src: 'host' });
  assert.ok(Object.isFrozen(p));
});
