import type { AddressInfo } from 'node:net';
import { relative } from 'node:path';
import type { IssuedCredential } from '../domain/index.js';
import type { Config } from './config.js';
import { DEMO } from './init.js';

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Copy-paste commands that exercise the running proxy with curl's own SigV4 signer. */
export function curlExample(opts: { url: string; uriPath: string; keyId: string; region: string; credential: IssuedCredential | undefined; caFile: string }): string {
  const body = JSON.stringify({
    requestMetadata: {
      awsPrincipalArn: 'arn:aws:iam::111122223333:user/demo',
      kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000',
      kmsOperation: 'Encrypt',
      kmsRequestId: 'demo-request-1',
    },
    plaintext: Buffer.from('Hello from Keyhold').toString('base64'),
    encryptionAlgorithm: 'AES_GCM',
  });
  const user = opts.credential ? `${opts.credential.accessKeyId}:${opts.credential.secretAccessKey}` : '<ACCESS_KEY_ID>:<SECRET_ACCESS_KEY>';
  return [
    `curl -sS --aws-sigv4 'aws:amz:${opts.region}:kms-xks-proxy' --user ${shellQuote(user)} \\`,
    `  --cacert ${shellQuote(opts.caFile)} -H 'Content-Type: application/json' \\`,
    `  -d ${shellQuote(body)} \\`,
    `  ${opts.url}${opts.uriPath}/keys/${opts.keyId}/encrypt`,
  ].join('\n');
}

export function startBanner(
  config: Readonly<Config>,
  address: AddressInfo,
  demo: { credential: IssuedCredential | undefined; present: boolean },
  admin: { address: AddressInfo | undefined; bootstrap?: { username: string; oneTimePassword: string } | undefined } = { address: undefined },
): string {
  const host = config.xks.listen.host === '127.0.0.1' || config.xks.listen.host === '0.0.0.0' || config.xks.listen.host === '::' ? 'localhost' : config.xks.listen.host;
  const url = `https://${host}:${address.port}`;
  const rel = relative(process.cwd(), config.xks.tls.certFile);
  const caFile = rel && !rel.startsWith('..') ? rel : config.xks.tls.certFile;
  const lines = [`Keyhold XKS proxy listening on ${url} (data: ${config.dataDir})`];
  if (admin.address) lines.push(`Admin API on https://${host}:${admin.address.port}/api/v1 (OpenAPI: /api/v1/openapi.json)`);
  if (admin.bootstrap) {
    lines.push(`  First administrator: ${admin.bootstrap.username}, one-time password: ${admin.bootstrap.oneTimePassword}   (shown once; replace it at first login)`);
  }
  if (demo.present) {
    const uriPath = `${DEMO.prefix}/kms/xks/v1`;
    lines.push('', `Demo key store: URI path ${uriPath}, key '${DEMO.keyId}'`);
    if (demo.credential) {
      lines.push(`  Access key id:     ${demo.credential.accessKeyId}`, `  Secret access key: ${demo.credential.secretAccessKey}   (shown once)`);
    } else {
      lines.push(`  The demo secret was shown when the data directory was created. New one: keyhold keystore credential add ${DEMO.keyStore}`);
    }
    lines.push('', 'Try it:', curlExample({ url, uriPath, keyId: DEMO.keyId, region: DEMO.region, credential: demo.credential, caFile }));
  }
  return lines.join('\n') + '\n';
}
