import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKeyhold } from './support/keyhold-harness.js';
import { demoXksClient, sealedFields } from './support/xks-client.js';

/** Every form a secret could take on disk or in a log. */
function forms(secret: Buffer | string): Buffer[] {
  const b = Buffer.isBuffer(secret) ? secret : Buffer.from(secret, 'utf8');
  const out = [b, Buffer.from(b.toString('base64')), Buffer.from(b.toString('hex')), Buffer.from(b.toString('base64url'))];
  return out.filter((f) => f.length >= 12);
}

function findLeaks(haystacks: Record<string, Buffer>, secrets: Record<string, Buffer | string>): string[] {
  const leaks: string[] = [];
  for (const [where, hay] of Object.entries(haystacks)) {
    for (const [what, secret] of Object.entries(secrets)) {
      if (forms(secret).some((f) => hay.includes(f))) leaks.push(`${what} in ${where}`);
    }
  }
  return leaks;
}

test('no plaintext or secret reaches the database, the logs or the audit export', async () => {
  const h = await startKeyhold();
  const outside = mkdtempSync(join(tmpdir(), 'keyhold-secrets-'));
  try {
    const c = demoXksClient(h);
    const secrets: Record<string, Buffer | string> = { 'demo SigV4 secret': h.demo!.credential.secretAccessKey };
    for (let i = 0; i < 5; i++) {
      const plaintext = Buffer.concat([Buffer.from(`PLAINTEXT-MARKER-${i}-`), randomBytes(24)]);
      const aad = Buffer.concat([Buffer.from(`AAD-MARKER-${i}-`), randomBytes(8)]);
      secrets[`plaintext ${i}`] = plaintext;
      const e = await c.encrypt('demo-key', { plaintext, aad, cdiv: true });
      assert.equal(e.status, 200);
      const d = await c.decrypt('demo-key', { ...sealedFields(e), aad });
      assert.equal(Buffer.from(String(d.body.plaintext), 'base64').equals(plaintext), true);
    }
    c.close();

    // Management actions that handle secrets.
    const ks = await h.json<{ secretAccessKey: string }>(['keystore', 'create', 'leaks', '--prefix', '/leaks']);
    secrets['new key store secret'] = ks.secretAccessKey;
    const cred = await h.json<{ secretAccessKey: string }>(['keystore', 'credential', 'add', 'leaks']);
    secrets['added credential secret'] = cred.secretAccessKey;
    const awsFile = join(outside, 'aws.json');
    assert.equal((await h.cli(['keystore', 'aws-config', 'leaks', '--output', awsFile])).code, 0);
    await h.json(['key', 'create', 'leak-key', '--keystore', 'leaks']);
    await h.json(['key', 'rotate', 'leak-key']);
    const policy = join(outside, 'policy.json');
    writeFileSync(policy, JSON.stringify({ default: 'allow', rules: [] }));
    await h.json(['keystore', 'policy', 'set', 'leaks', '--file', policy]);
    // The seal's root key must not be copied anywhere either.
    secrets['seal root key'] = readFileSync(join(h.dataDir, 'seal.key'));

    const exported = await h.cli(['audit', 'export']);
    assert.equal(exported.code, 0);
    assert.ok(exported.stdout.split('\n').filter(Boolean).length >= 15, 'the export holds the calls and the admin actions');
    const usage = await h.cli(['--json', 'key', 'usage', 'demo-key']);

    const scan = (label: string) => {
      const hay: Record<string, Buffer> = {
        [`server output (${label})`]: Buffer.from(h.output()),
        'audit export': Buffer.from(exported.stdout + exported.stderr),
        'key usage': Buffer.from(usage.stdout + usage.stderr),
      };
      for (const f of readdirSync(h.dataDir)) {
        if (/^keyhold\.db(-wal|-shm)?$/.test(f)) hay[`${f} (${label})`] = readFileSync(join(h.dataDir, f));
      }
      assert.ok(Object.keys(hay).some((k) => k.startsWith('keyhold.db ')), 'the database was scanned');
      return findLeaks(hay, secrets);
    };
    // While the server runs (the WAL holds the newest pages) and after it stopped.
    assert.ok(existsSync(join(h.dataDir, 'keyhold.db-wal')));
    assert.deepEqual(scan('running'), []);
    await h.stop();
    assert.deepEqual(scan('stopped'), []);

    // The scan itself finds what it looks for (the demo secret is in init's output).
    assert.deepEqual(findLeaks({ probe: Buffer.from(`x ${h.demo!.credential.secretAccessKey} y`) }, { s: h.demo!.credential.secretAccessKey }), ['s in probe']);
  } finally {
    await h.dispose();
    rmSync(outside, { recursive: true, force: true });
  }
});
