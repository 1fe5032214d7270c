/** The vendor sample configurations in deploy/hsm/ are valid [hsm] sections. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { hsmSection } from '../src/app/hsm-config.js';
import { PROFILES } from '../src/hsm/index.js';
import { ROOT } from './support/keyhold-harness.js';

const dir = join(ROOT, 'deploy', 'hsm');
const files = readdirSync(dir).filter((f) => f.endsWith('.toml'));

test('there is a sample for SoftHSM2, nShield, Luna, CloudHSM and Fortanix DSM', () => {
  assert.deepEqual(files.sort(), ['cloudhsm.toml', 'fortanix.toml', 'luna.toml', 'nshield.toml', 'softhsm2.toml']);
});

for (const f of files) {
  test(`${f} has a valid [hsm] section with its vendor's profile and no PIN in it`, () => {
    const doc = parse(readFileSync(join(dir, f), 'utf8')) as { hsm?: unknown };
    const s = hsmSection.parse(doc.hsm);
    assert.equal(s.profile, f.replace('.toml', ''));
    assert.ok(PROFILES[s.profile]);
    assert.ok(s.pin_env !== undefined || s.pin_file !== undefined, 'the PIN comes from the environment or a file');
  });
}
