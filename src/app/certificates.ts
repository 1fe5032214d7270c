import { webcrypto, randomBytes } from 'node:crypto';
// @peculiar/x509 needs the Reflect metadata polyfill before it loads.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  /** For signing further certificates (CAs only). */
  keys: CryptoKeyPair;
  cert: x509.X509Certificate;
}

export interface CertificateRequest {
  commonName: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  days?: number;
  kind: 'ca' | 'server' | 'client';
  /** Signs with this CA; self-signed when absent. */
  issuer?: IssuedCertificate;
  notBefore?: Date;
}

/**
 * Makes ECDSA P-256 certificates: the self-signed certificate `keyhold init` writes for
 * localhost, and the CAs and client certificates the tests use for mTLS.
 */
export async function issueCertificate(req: CertificateRequest): Promise<IssuedCertificate> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notBefore = req.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + (req.days ?? 365) * 86_400_000);
  const names: x509.JsonGeneralName[] = [
    ...(req.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(req.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(req.kind === 'ca', req.kind === 'ca' ? 0 : undefined, true),
    new x509.KeyUsagesExtension(req.kind === 'ca' ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature : x509.KeyUsageFlags.digitalSignature, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (req.kind !== 'ca') extensions.push(new x509.ExtendedKeyUsageExtension([req.kind === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]));
  if (names.length) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  const serialNumber = randomBytes(16).toString('hex').replace(/^[89a-f]/, '1');
  const common = { serialNumber, notBefore, notAfter, signingAlgorithm: ALG, extensions };
  const subject = `CN=${req.commonName}`;
  const cert = req.issuer
    ? await x509.X509CertificateGenerator.create({
        ...common,
        subject,
        issuer: req.issuer.cert.subject,
        publicKey: keys.publicKey,
        signingKey: req.issuer.keys.privateKey,
        extensions: [...extensions, await x509.AuthorityKeyIdentifierExtension.create(req.issuer.keys.publicKey)],
      })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: subject, keys });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END PRIVATE KEY-----\n`;
  return { certPem: cert.toString('pem') + '\n', keyPem, keys, cert };
}

/**
 * The development certificate: self-signed, valid for localhost and 127.0.0.1, usable as
 * its own trust anchor (`curl --cacert`, Node's `ca`). Production uses a certificate from a
 * CA that KMS trusts (docs/deployment.md).
 */
export function selfSignedServerCertificate(names: string[] = ['localhost'], days = 365): Promise<IssuedCertificate> {
  return issueCertificate({ commonName: names[0] ?? 'localhost', dnsNames: names, ipAddresses: ['127.0.0.1'], days, kind: 'ca' });
}
