import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKeyholdError } from '../base/index.js';
import { describeImportPlan, ivStrategyFor, keyStoreNameForPrefix, parseSampleProxyConfig, profileForModule } from './sample-proxy-config.js';

const SECRET = 'Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5';
const SETTINGS = `
[server]
ip = "0.0.0.0"
port = 443
region = "eu-west-1"
service = "kms-xks-proxy"
ciphertext_metadata_b64 = "a2gtMQ=="

[server.tcp_keepalive]
tcp_keepalive_secs = 60

[tracing]
is_stdout_writer_enabled = true
is_file_writer_enabled = false
level = "INFO"

[security]
is_sigv4_auth_enabled = true
is_tls_enabled = true
is_mtls_enabled = true
secondary_auth = "Oso"

[tls]
tls_cert_pem = "tls/server_cert.pem"
tls_key_pem = "tls/server_key.pem"
mtls_client_ca_pem = "tls/client_ca.pem"
mtls_client_dns_name = "cks.kms.eu-west-1.amazonaws.com"

[[external_key_stores]]
uri_path_prefix = "/payments/xks"
sigv4_access_key_id = "ABCDEFGHIJKLMNOPQRST"
sigv4_secret_access_key = "${SECRET}"
xks_key_id_set = ["orders", "ledger"]

[[external_key_stores]]
uri_path_prefix = ""
sigv4_access_key_id = ""
sigv4_secret_access_key = ""
xks_key_id_set = ["ledger", "bad key id", "archive"]

[pkcs11]
session_pool_max_size = 30
session_pool_timeout_milli = 0
session_eager_close = false
user_pin = "do-not-copy-me"
PKCS11_HSM_MODULE = "/opt/pkcs11-logger/pkcs11-logger-x64.so"
context_read_timeout_milli = 10

[pkcs11_logger]
PKCS11_LOGGER_LIBRARY_PATH = "/opt/cloudhsm/lib/libcloudhsm_pkcs11.so"
PKCS11_LOGGER_LOG_FILE_PATH = "/var/log/p11.log"
PKCS11_LOGGER_FLAGS = "0"

[limits]
max_plaintext_in_base64 = 8192
max_aad_in_base64 = 16384

[hsm_capabilities]
can_generate_iv = true
is_zero_iv_required = true
`;

test('reads key stores with their prefixes, credentials and key ids', () => {
  const plan = parseSampleProxyConfig(SETTINGS);
  assert.deepEqual(
    plan.keyStores.map((k) => ({ name: k.name, prefix: k.prefix, akid: k.credential?.accessKeyId, keyIds: k.keyIds })),
    [
      { name: 'payments-xks', prefix: '/payments/xks', akid: 'ABCDEFGHIJKLMNOPQRST', keyIds: ['orders', 'ledger'] },
      { name: 'default', prefix: '', akid: undefined, keyIds: ['archive'] },
    ],
  );
  assert.equal(plan.keyStores[0]!.credential?.secretAccessKey, SECRET);
});

test('warns about what it cannot carry over, one warning per problem', () => {
  const w = parseSampleProxyConfig(SETTINGS).warnings.join('\n');
  assert.match(w, /key id 'ledger' is served by both '\/payments\/xks' and '\(no prefix\)'/);
  assert.match(w, /key id 'bad key id' is not a valid XKS key id/);
  assert.match(w, /'\(no prefix\)' has no valid SigV4 credential/);
  assert.match(w, /plain text/);
  assert.match(w, /Oso/);
  assert.match(w, /token_label/);
});

test('never carries the plain-text PIN into the plan', () => {
  const plan = parseSampleProxyConfig(SETTINGS);
  assert.ok(!JSON.stringify(plan).includes('do-not-copy-me'));
});

test('sees through pkcs11-logger to the real module and guesses the profile', () => {
  const plan = parseSampleProxyConfig(SETTINGS);
  assert.equal(plan.pkcs11.module, '/opt/cloudhsm/lib/libcloudhsm_pkcs11.so');
  assert.equal(plan.pkcs11.viaLogger, true);
  assert.equal(plan.pkcs11.profile, 'cloudhsm');
  assert.equal(plan.pkcs11.sessions, 30);
});

test('maps the sample proxy IV flags to IV strategies', () => {
  assert.equal(ivStrategyFor({ can_generate_iv: false, is_zero_iv_required: false }), 'caller');
  assert.equal(ivStrategyFor({ can_generate_iv: true, is_zero_iv_required: true }), 'token-zero-buffer');
  assert.equal(ivStrategyFor({ can_generate_iv: true, is_zero_iv_required: false }), 'token-appends');
  assert.equal(ivStrategyFor(undefined), 'caller');
  assert.equal(parseSampleProxyConfig(SETTINGS).pkcs11.ivStrategy, 'token-zero-buffer');
});

test('reads server and TLS settings', () => {
  const plan = parseSampleProxyConfig(SETTINGS);
  assert.deepEqual(plan.server, { region: 'eu-west-1', port: 443, ciphertextMetadataB64: 'a2gtMQ==' });
  assert.deepEqual(plan.tls, {
    enabled: true,
    certPem: 'tls/server_cert.pem',
    keyPem: 'tls/server_key.pem',
    mtls: true,
    clientCaPem: 'tls/client_ca.pem',
    clientDnsName: 'cks.kms.eu-west-1.amazonaws.com',
  });
});

test('the printable plan has no secrets', () => {
  const shown = JSON.stringify(describeImportPlan(parseSampleProxyConfig(SETTINGS)));
  assert.ok(!shown.includes(SECRET));
  assert.ok(shown.includes('ABCDEFGHIJKLMNOPQRST'));
});

test('guesses profiles from vendor module paths', () => {
  assert.equal(profileForModule('/usr/lib/softhsm/libsofthsm2.so'), 'softhsm2');
  assert.equal(profileForModule('/opt/nfast/toolkits/pkcs11/libcknfast.so'), 'nshield');
  assert.equal(profileForModule('/usr/safenet/lunaclient/lib/libCryptoki2_64.so'), 'luna');
  assert.equal(profileForModule('/opt/fortanix/pkcs11/fortanix_pkcs11.so'), 'fortanix');
  assert.equal(profileForModule('/usr/lib/other.so'), 'generic');
});

test('derives key store names from prefixes', () => {
  assert.equal(keyStoreNameForPrefix(''), 'default');
  assert.equal(keyStoreNameForPrefix('/example/uri/path/prefix'), 'example-uri-path-prefix');
  assert.equal(keyStoreNameForPrefix('/a_b-c'), 'a_b-c');
});

test('rejects a file that is not TOML or not a sample-proxy settings file', () => {
  assert.throws(() => parseSampleProxyConfig('[server\nport = '), (e) => isKeyholdError(e, 'ValidationFailed') && /not valid TOML/.test(e.message));
  assert.throws(() => parseSampleProxyConfig('[[external_key_stores]]\nxks_key_id_set = ["a"]\n'), (e) => isKeyholdError(e, 'ValidationFailed') && /uri_path_prefix/.test(e.message));
});
