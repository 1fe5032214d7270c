/**
 * A stalled HSM behind a running Keyhold, over HTTPS: HSM-key calls answer
 * DependencyTimeoutException within the configured budget (well inside KMS's 250 ms), while
 * software-key calls keep being answered; health reports the token as DEGRADED, not down.
 * The token is SoftHSM2 behind the fault shim, which holds C_Encrypt/C_Decrypt on request.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKeyhold, eventually, type KeyholdHarness } from './support/keyhold-harness.js';
import { demoXksClient, type XksClient, type XksResponse } from './support/xks-client.js';
import { createSoftHsm } from './support/softhsm.js';
import { createFaultToken, type FaultToken } from './support/fault-token.js';

const hsm = createSoftHsm();
let fault: FaultToken;
let h: KeyholdHarness;
let c: XksClient;

before(async () => {
  const token = hsm.addToken('xks-slow');
  // The server is a child process: the shim reads its target and control file from there.
  fault = createFaultToken(hsm.module, hsm.root);
  const config = `[health]
interval_seconds = 1
max_age_seconds = 1

[hsm]
module = "${fault.module}"
token_label = "${token.label}"
pin_env = "KEYHOLD_HSM_PIN"
profile = "softhsm2"
# The fault shim makes this token stall like a network HSM: worker threads, as for one
# (the softhsm2 profile alone would run calls on the event loop).
dispatch = "threads"
sessions = 2
timeout_ms = 120
`;
  h = await startKeyhold({ config, env: { KEYHOLD_HSM_PIN: token.userPin } });
  c = demoXksClient(h);
  await h.json(['key', 'create', 'hsm-slow', '--keystore', 'demo', '--protection', 'hsm']);
  assert.equal((await eventually(() => c.encrypt('hsm-slow', { plaintext: Buffer.from('warm') }))).status, 200);
});

after(async () => {
  fault?.clear();
  c?.close();
  await h?.dispose();
  hsm.cleanup();
});

test('a stalled token answers DependencyTimeoutException; software keys are served meanwhile', async (t) => {
  fault.hold();
  t.after(() => fault.release());
  let hsmDone = false;
  const stalled = c.encrypt('hsm-slow', { plaintext: Buffer.from('x') }).then((r) => {
    hsmDone = true;
    return r;
  });
  // While the token holds the HSM call, a software key answers.
  const sw = await c.encrypt('demo-key', { plaintext: Buffer.from('not held up') });
  assert.equal(sw.status, 200);
  const r: XksResponse = await stalled;
  assert.ok(hsmDone);
  assert.equal(r.status, 503);
  assert.equal(r.body.errorName, 'DependencyTimeoutException');
  assert.match(String(r.body.errorMessage), /within 120 ms/);
});

test('a slow token is DEGRADED in health; back to ACTIVE when it speeds up', async (t) => {
  fault.delay(200);
  t.after(() => fault.clear());
  await eventually(async () => {
    const r = await c.health();
    const e = (r.body.ekmFleetDetails as { id: string; healthStatus: string }[]).find((x) => x.id.startsWith('hsm:'));
    assert.equal(e?.healthStatus, 'DEGRADED');
  }, 8000);
  fault.clear();
  await eventually(async () => {
    const r = await c.health();
    const e = (r.body.ekmFleetDetails as { id: string; healthStatus: string }[]).find((x) => x.id.startsWith('hsm:'));
    assert.equal(e?.healthStatus, 'ACTIVE');
  }, 8000);
  assert.equal((await c.encrypt('hsm-slow', { plaintext: Buffer.from('fast again') })).status, 200);
});
