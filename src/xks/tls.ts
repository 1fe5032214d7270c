import { readFileSync, watchFile, unwatchFile } from 'node:fs';
import { X509Certificate, type KeyObject } from 'node:crypto';
import type { Server } from 'node:https';
import type { TLSSocket, SecureContextOptions } from 'node:tls';
import { KeyholdError, type Logger } from '../base/index.js';
import { verifyClientsInHandshake } from './mtls-verify.js';

/**
 * TLS for the XKS listener: TLS 1.2+ and only the cipher suites the XKS spec names (all
 * with forward secrecy), optional mTLS with a client CA and required subject names, and
 * certificate reload on change without dropping established connections.
 */
export const XKS_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
].join(':');

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** mTLS: PEM of the CA(s) that issue client certificates. */
  clientCaFile?: string | undefined;
  /** mTLS: accepted client subject names (CN or DNS SAN), e.g. cks.kms.eu-west-1.amazonaws.com. */
  clientSubjects?: readonly string[] | undefined;
}

/** A certificate and key held in memory (installed cluster-wide, sealed in storage). */
export interface CertificatePair {
  cert: Buffer;
  key: Buffer;
}

/** The listener's TLS options: the installed pair when there is one, else the files. */
export function loadSecureContextOptions(files: TlsFiles, installed?: CertificatePair): SecureContextOptions {
  try {
    const cert = installed?.cert ?? readFileSync(files.certFile);
    const key = installed?.key ?? readFileSync(files.keyFile);
    new X509Certificate(cert); // fail early on a file that is not a certificate
    return {
      cert,
      key,
      minVersion: 'TLSv1.2',
      ciphers: XKS_CIPHERS,
      honorCipherOrder: true,
      ...(files.clientCaFile ? { ca: readFileSync(files.clientCaFile) } : {}),
    };
  } catch (e) {
    throw new KeyholdError('ConfigInvalid', `cannot load TLS files (${files.certFile}, ${files.keyFile}${files.clientCaFile ? ', ' + files.clientCaFile : ''}): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

export function mtlsServerOptions(files: TlsFiles) {
  return files.clientCaFile ? { requestCert: true, rejectUnauthorized: true } : {};
}

/**
 * With mTLS, client chains are verified during the handshake (mtls-verify.ts): a certificate
 * that is expired or not from the client CA fails the handshake with the matching TLS alert,
 * and is logged. Without the native addon it says so once, and Node's check right after the
 * handshake still refuses such a client (without an alert).
 */
export function verifyClientChains(server: Server, files: TlsFiles, log: Logger): void {
  if (!files.clientCaFile) return;
  const why = verifyClientsInHandshake(server);
  if (why) log.warn({ event: 'mtls_handshake_verification_unavailable', reason: why }, 'client certificates are verified after the TLS handshake only (no TLS alert to a refused client)');
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    if (err.code === 'ERR_SSL_CERTIFICATE_VERIFY_FAILED') log.warn({ event: 'mtls_rejected', reason: 'certificate verification failed', remote: socket.remoteAddress }, 'client certificate does not verify against the client CA');
  });
}

/** Replaces the listener's certificate (the installed pair, else the files) for new handshakes. */
export function setServerContext(server: Server, files: TlsFiles, installed?: CertificatePair): void {
  server.setSecureContext(loadSecureContextOptions(files, installed));
  if (files.clientCaFile) verifyClientsInHandshake(server);
}

/** Names a client certificate carries: subject CN and DNS subject alternative names. */
export function certificateNames(socket: TLSSocket): string[] {
  const peer = socket.getPeerX509Certificate();
  if (!peer) return [];
  const names: string[] = [];
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(peer.subject)?.[1];
  if (cn) names.push(cn);
  for (const part of (peer.subjectAltName ?? '').split(', ')) if (part.startsWith('DNS:')) names.push(part.slice(4));
  return names;
}

/**
 * The chain is verified during the handshake (verifyClientChains); the subject name check
 * runs as soon as the handshake completes, before any request byte is read, and closes the
 * connection on a mismatch (no TLS alert: the handshake is over).
 */
export function enforceClientSubjects(server: Server, subjects: readonly string[], log: Logger): void {
  if (subjects.length === 0) return;
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    const names = certificateNames(socket);
    if (!names.some((n) => subjects.includes(n))) {
      log.warn({ event: 'mtls_rejected', names: names.slice(0, 5), remote: socket.remoteAddress }, 'client certificate subject not allowed');
      socket.destroy();
    }
  });
}

/** Reloads certificate and key when either file changes; new handshakes use the new pair. */
export function watchCertificates(server: Server, files: TlsFiles, log: Logger, intervalMs = 1000, installed: () => CertificatePair | undefined = () => undefined): () => void {
  const paths = [files.certFile, files.keyFile, ...(files.clientCaFile ? [files.clientCaFile] : [])];
  const reload = () => {
    try {
      setServerContext(server, files, installed());
      log.info({ event: 'tls_reloaded', certFile: files.certFile }, 'TLS certificate reloaded');
    } catch (e) {
      log.error({ event: 'tls_reload_failed', err: e instanceof Error ? e.message : String(e) }, 'TLS reload failed; keeping the previous certificate');
    }
  };
  let pending: NodeJS.Timeout | undefined;
  const onChange = () => {
    // cert and key are usually replaced together; wait for both writes to land.
    if (pending) clearTimeout(pending);
    pending = setTimeout(reload, 200);
  };
  for (const p of paths) watchFile(p, { interval: intervalMs, persistent: false }, onChange);
  return () => {
    if (pending) clearTimeout(pending);
    for (const p of paths) unwatchFile(p, onChange);
  };
}

export function certificateExpiry(certFile: string): Date {
  return new Date(new X509Certificate(readFileSync(certFile)).validTo);
}

export type { KeyObject };
