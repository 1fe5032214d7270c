/*
 * A PKCS#11 module that forwards every call to a real module (SoftHSM2 in the tests) and,
 * on request, makes the token slow, hold a call until released, or fail with a given CK_RV.
 * It stands where a network HSM's latency and outages would be; the cryptography still runs
 * in the real token. Used only by tests and benchmarks.
 *
 * Environment (read once, at C_GetFunctionList):
 *   KEYHOLD_SHIM_TARGET   path of the real module
 *   KEYHOLD_SHIM_CONTROL  path of a small text file, re-read on every affected call:
 *       delay_ms=N   sleep N ms inside every C_Encrypt / C_Decrypt
 *       init_delay_ms=N  sleep N ms inside every C_EncryptInit / C_DecryptInit (network HSMs
 *                    make a round trip there too)
 *       hold=1       block C_Encrypt / C_Decrypt until the line disappears
 *       fail=N       return CK_RV N (decimal) from C_Encrypt, C_Decrypt, C_FindObjectsInit,
 *                    C_GetTokenInfo and C_OpenSession instead of calling the module
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pkcs11.h>

static CK_FUNCTION_LIST shim;
static CK_FUNCTION_LIST_PTR real;
static const char *control;

struct faults { long delay_ms; long init_delay_ms; int hold; long fail; };

static struct faults read_faults(void) {
  struct faults f = { 0, 0, 0, 0 };
  if (!control) return f;
  FILE *fp = fopen(control, "r");
  if (!fp) return f;
  char line[128];
  while (fgets(line, sizeof line, fp)) {
    if (strncmp(line, "delay_ms=", 9) == 0) f.delay_ms = strtol(line + 9, NULL, 10);
    else if (strncmp(line, "init_delay_ms=", 14) == 0) f.init_delay_ms = strtol(line + 14, NULL, 10);
    else if (strncmp(line, "hold=1", 6) == 0) f.hold = 1;
    else if (strncmp(line, "fail=", 5) == 0) f.fail = strtol(line + 5, NULL, 10);
  }
  fclose(fp);
  return f;
}

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

/* Slowness and holds apply to the data operations, as on a busy or stalled HSM. */
static CK_RV slow_then_maybe_fail(void) {
  struct faults f = read_faults();
  while (f.hold) {
    sleep_ms(2);
    f = read_faults();
  }
  if (f.delay_ms > 0) sleep_ms(f.delay_ms);
  return (CK_RV)f.fail;
}

static CK_RV C_Encrypt_shim(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG inLen, CK_BYTE_PTR out, CK_ULONG_PTR outLen) {
  CK_RV rv = slow_then_maybe_fail();
  return rv ? rv : real->C_Encrypt(s, in, inLen, out, outLen);
}

static CK_RV C_Decrypt_shim(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG inLen, CK_BYTE_PTR out, CK_ULONG_PTR outLen) {
  CK_RV rv = slow_then_maybe_fail();
  return rv ? rv : real->C_Decrypt(s, in, inLen, out, outLen);
}

static CK_RV C_EncryptInit_shim(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k) {
  long d = read_faults().init_delay_ms;
  if (d > 0) sleep_ms(d);
  return real->C_EncryptInit(s, m, k);
}

static CK_RV C_DecryptInit_shim(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k) {
  long d = read_faults().init_delay_ms;
  if (d > 0) sleep_ms(d);
  return real->C_DecryptInit(s, m, k);
}

static CK_RV C_FindObjectsInit_shim(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n) {
  CK_RV rv = (CK_RV)read_faults().fail;
  return rv ? rv : real->C_FindObjectsInit(s, t, n);
}

static CK_RV C_GetTokenInfo_shim(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
  CK_RV rv = (CK_RV)read_faults().fail;
  return rv ? rv : real->C_GetTokenInfo(slot, info);
}

static CK_RV C_OpenSession_shim(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify, CK_SESSION_HANDLE_PTR s) {
  CK_RV rv = (CK_RV)read_faults().fail;
  return rv ? rv : real->C_OpenSession(slot, flags, app, notify, s);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  if (!list) return CKR_ARGUMENTS_BAD;
  if (!real) {
    const char *target = getenv("KEYHOLD_SHIM_TARGET");
    if (!target) return CKR_GENERAL_ERROR;
    void *h = dlopen(target, RTLD_NOW | RTLD_LOCAL);
    if (!h) return CKR_GENERAL_ERROR;
    CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR) = (CK_RV (*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(h, "C_GetFunctionList");
    if (!get) return CKR_GENERAL_ERROR;
    CK_RV rv = get(&real);
    if (rv != CKR_OK) return rv;
    control = getenv("KEYHOLD_SHIM_CONTROL");
    shim = *real;
    shim.C_Encrypt = C_Encrypt_shim;
    shim.C_Decrypt = C_Decrypt_shim;
    shim.C_EncryptInit = C_EncryptInit_shim;
    shim.C_DecryptInit = C_DecryptInit_shim;
    shim.C_FindObjectsInit = C_FindObjectsInit_shim;
    shim.C_GetTokenInfo = C_GetTokenInfo_shim;
    shim.C_OpenSession = C_OpenSession_shim;
  }
  *list = &shim;
  return CKR_OK;
}
