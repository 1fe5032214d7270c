import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KeyholdError, type Logger } from '../base/index.js';
import type { MetaRepo, Seal, TlsCertificateOps } from '../domain/index.js';
import type { SealContext } from '../crypto/index.js';
import type { CertificatePair } from './tls.js';

/**
 * One XKS certificate for the whole cluster: `keyhold tls install --cert F --key F` stores
 * the certificate chain and its private key, sealed, in one meta row (one write, so no node
 * ever reads a certificate with another one's key); every node polls that row and serves
 * the new pair from its next handshake. Without an installed pair the files on disk
 * (xks.tls_cert, xks.tls_key) are served, and reloaded when they change, as before.
 */
export const TLS_META = 'tls.xks';
const KEY_CTX: SealContext = { table: 'meta', id: TLS_META, column: 'value' };

export interface InstalledCertificate {
  subject: string;
  issuer: string;
  dnsNames: string[];
  notAfter: string;
  fingerprint256: string;
}

interface StoredTls {
  cert: string;
  /** base64 of the sealed PEM private key. */
  key: string;
  fingerprint256: string;
}

function describe(x: X509Certificate): InstalledCertificate {
  return {
    subject: x.subject.replace(/\n/g, ', '),
    issuer: x.issuer.replace(/\n/g, ', '),
    dnsNames: (x.subjectAltName ?? '').split(', ').filter((p) => p.startsWith('DNS:')).map((p) => p.slice(4)),
    notAfter: new Date(x.validTo).toISOString(),
    fingerprint256: x.fingerprint256,
  };
}

const MAX_PEM = 64 * 1024;

/** Refuses a pair that would not serve: not a certificate, a key of another one, expired. */
export function checkCertificatePair(certPem: string, keyPem: string, now: number): X509Certificate {
  if (certPem.length > MAX_PEM || keyPem.length > MAX_PEM) throw new KeyholdError('ValidationFailed', `certificate and key must each be at most ${MAX_PEM} bytes of PEM`);
  let x: X509Certificate;
  try {
    x = new X509Certificate(certPem);
  } catch {
    throw new KeyholdError('ValidationFailed', 'the certificate is not a PEM X.509 certificate');
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new KeyholdError('ValidationFailed', 'the key is not a PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1)');
  }
  if (!x.checkPrivateKey(key)) throw new KeyholdError('ValidationFailed', 'the private key does not belong to the certificate');
  if (Date.parse(x.validTo) <= now) throw new KeyholdError('ValidationFailed', `the certificate expired at ${new Date(x.validTo).toISOString()}`);
  return x;
}

/** Checks the pair (a certificate, a key that belongs to it, not expired) and stores it sealed. */
export async function installCertificate(deps: { meta: MetaRepo; seal: Seal; now: number }, certPem: string, keyPem: string): Promise<InstalledCertificate> {
  const x = checkCertificatePair(certPem, keyPem, deps.now);
  const pem = Buffer.from(keyPem, 'utf8');
  try {
    const sealed = await deps.seal.seal(pem, KEY_CTX);
    const stored: StoredTls = { cert: certPem, key: sealed.toString('base64'), fingerprint256: x.fingerprint256 };
    await deps.meta.setMeta(TLS_META, JSON.stringify(stored));
  } finally {
    pem.fill(0);
  }
  return describe(x);
}

/** Back to the files on disk. */
export async function removeCertificate(meta: MetaRepo): Promise<void> {
  await meta.setMeta(TLS_META, '');
}

/** The installed certificate, without its key (for status and the expiry metric). */
export async function installedCertificate(meta: MetaRepo): Promise<InstalledCertificate | undefined> {
  const raw = await meta.getMeta(TLS_META);
  if (!raw) return undefined;
  return describe(new X509Certificate((JSON.parse(raw) as StoredTls).cert));
}

/**
 * A node's side: polls the meta row (and reacts to change notifications through `poke`),
 * unseals a new pair and hands it to the listener. A pair that does not load is logged and
 * the current certificate stays.
 */
export function watchInstalledCertificate(deps: { meta: MetaRepo; seal: Seal; log: Logger; use: (pair: CertificatePair | undefined) => void; intervalMs?: number }) {
  let last: string | undefined;
  let notAfter: Date | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  async function check(): Promise<void> {
    const raw = (await deps.meta.getMeta(TLS_META)) ?? '';
    if (raw === last || stopped) return;
    if (raw === '') {
      if (last !== undefined) deps.use(undefined);
      if (last !== undefined) deps.log.info({ event: 'tls_installed_removed' }, 'serving the certificate files again');
      last = raw;
      notAfter = undefined;
      return;
    }
    const stored = JSON.parse(raw) as StoredTls;
    const key = await deps.seal.unseal(Buffer.from(stored.key, 'base64'), KEY_CTX);
    deps.use({ cert: Buffer.from(stored.cert, 'utf8'), key });
    last = raw;
    notAfter = new Date(new X509Certificate(stored.cert).validTo);
    deps.log.info({ event: 'tls_installed', fingerprint256: stored.fingerprint256 }, 'serving the cluster certificate from storage');
  }

  const run = () => {
    running ??= check()
      .catch((e: unknown) => deps.log.error({ event: 'tls_install_failed', err: e instanceof Error ? e.message : String(e) }, 'could not load the installed certificate; keeping the current one'))
      .finally(() => (running = undefined));
    return running;
  };
  const timer = setInterval(() => void run(), deps.intervalMs ?? 1000);
  timer.unref();
  return {
    /** Checks now (start, and after a change notification). */
    poke: run,
    /** Expiry of the installed certificate, when one is served. */
    notAfter: () => notAfter,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** The certificate file the listener serves (for `keyhold status`): subject and expiry, or why it does not load. */
export function certificateFileInfo(file: string): { file: string; subject: string; validTo: string; daysLeft: number } | { file: string; error: string } {
  try {
    const c = new X509Certificate(readFileSync(file));
    const validTo = new Date(c.validTo);
    return { file, subject: c.subject.replace(/\n/g, ', '), validTo: validTo.toISOString(), daysLeft: Math.floor((validTo.getTime() - Date.now()) / 86_400_000) };
  } catch (e) {
    return { file, error: e instanceof Error ? e.message : String(e) };
  }
}

/** The cluster certificate as an approval request runs it (tls.install / tls.remove). */
export function clusterCertificateOps(meta: MetaRepo, seal: Seal, clock: { now(): number }): TlsCertificateOps {
  return {
    check: async (certPem, keyPem) => void checkCertificatePair(certPem, keyPem, clock.now()),
    install: (certPem, keyPem) => installCertificate({ meta, seal, now: clock.now() }, certPem, keyPem),
    remove: () => removeCertificate(meta),
  };
}
