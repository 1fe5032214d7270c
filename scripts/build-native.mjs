#!/usr/bin/env node
// Builds the native addon in native/mtls-verify (client-certificate verification inside the
// TLS handshake, see native/mtls-verify/mtls_verify.cc) for the running Node.js, with
// node-gyp against that Node's headers (npm_config_nodedir, else the installation prefix).
// Skipped when the addon is already built for this Node's ABI. Run by `npm run build`.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'native', 'mtls-verify');
const built = join(dir, 'build', 'Release', 'mtls_verify.node');
const stamp = join(dir, 'build', 'built-for');
const abi = `${process.version} abi ${process.versions.modules}`;
if (existsSync(built) && existsSync(stamp) && readFileSync(stamp, 'utf8') === abi) process.exit(0);

const prefix = dirname(dirname(process.execPath));
const nodedir = process.env.npm_config_nodedir || prefix;
const gyp = process.env.npm_config_node_gyp || join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
if (!existsSync(gyp)) {
  console.error(`build-native: node-gyp not found (${gyp}); set npm_config_node_gyp`);
  process.exit(1);
}
const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--loglevel=warn'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
if (r.status !== 0) {
  console.error('build-native: building native/mtls-verify failed');
  process.exit(r.status ?? 1);
}
writeFileSync(stamp, abi);
