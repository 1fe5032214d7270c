/**
 * The baseline: a bare node:https server with Keyhold's TLS settings (same certificate, TLS
 * versions and cipher suites) that reads each request body and answers a fixed JSON of the
 * same size as Keyhold's answer to that operation. Whatever Keyhold does beyond this (routing,
 * SigV4, validation, key lookup, AES-GCM, logging, audit) is the gap the ratio shows.
 *
 * Usage: node baseline-server.js CERT KEY ENCRYPT_ANSWER_FILE DECRYPT_ANSWER_FILE
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { loadSecureContextOptions } from '../src/xks/tls.js';

const [certFile, keyFile, encryptFile, decryptFile] = process.argv.slice(2) as [string, string, string, string];
const encryptAnswer = readFileSync(encryptFile);
const decryptAnswer = readFileSync(decryptFile);
const headers = (b: Buffer) => ({ 'content-type': 'application/json', 'content-length': b.length });
const encryptHeaders = headers(encryptAnswer);
const decryptHeaders = headers(decryptAnswer);

const server = createServer(loadSecureContextOptions({ certFile, keyFile }), (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const isDecrypt = (req.url ?? '').endsWith('/decrypt');
    res.writeHead(200, isDecrypt ? decryptHeaders : encryptHeaders);
    res.end(isDecrypt ? decryptAnswer : encryptAnswer);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`BASELINE_READY ${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
