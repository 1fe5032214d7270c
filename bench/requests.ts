import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request as httpsRequest, Agent } from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';

/**
 * Builds the load: XKS requests signed by an independent SigV4 signer (@smithy/signature-v4,
 * as the AWS SDK uses), serialised as raw HTTP/1.1 so wrk can replay them unchanged. A pool
 * is signed right before each measurement, so every signature is seconds old (the server
 * accepts ±5 minutes).
 */
export type Operation = 'encrypt' | 'decrypt' | 'mix';

export interface Target {
  host: string;
  port: number;
  /** Key store URI path, ending in /kms/xks/v1. */
  uriPath: string;
  region: string;
  credential: { accessKeyId: string; secretAccessKey: string };
  caPem: string;
}

/** What a decrypt needs: a ciphertext the server made for one key. */
export interface Sealed {
  keyId: string;
  ciphertext: string;
  initializationVector: string;
  authenticationTag: string;
  ciphertextMetadata: string;
  aad: string;
}

/** Shapes of the request bodies KMS sends (xks-spec §5): a 64-byte plaintext, 32 bytes of AAD. */
export const PLAINTEXT_BYTES = 64;
export const AAD_BYTES = 32;

const Sha256 = Hash.bind(null, 'sha256');

function requestMetadata(op: 'Encrypt' | 'Decrypt') {
  return {
    awsPrincipalArn: 'arn:aws:iam::111122223333:role/BenchApplication',
    kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
    kmsOperation: op,
    kmsRequestId: randomUUID(),
    kmsViaService: 'ebs',
  };
}

export function encryptBody(aad: string): string {
  return JSON.stringify({
    requestMetadata: requestMetadata('Encrypt'),
    plaintext: randomBytes(PLAINTEXT_BYTES).toString('base64'),
    encryptionAlgorithm: 'AES_GCM',
    additionalAuthenticatedData: aad,
  });
}

export function decryptBody(s: Sealed): string {
  return JSON.stringify({
    requestMetadata: requestMetadata('Decrypt'),
    ciphertext: s.ciphertext,
    initializationVector: s.initializationVector,
    authenticationTag: s.authenticationTag,
    encryptionAlgorithm: 'AES_GCM',
    additionalAuthenticatedData: s.aad,
    ciphertextMetadata: s.ciphertextMetadata,
  });
}

export function createSigner(t: Target) {
  const signer = new SignatureV4({ service: 'kms-xks-proxy', region: t.region, credentials: t.credential, sha256: Sha256 });
  const hostHeader = `localhost:${t.port}`;
  /** Signs one POST and returns it as raw HTTP/1.1 bytes. */
  return async function signRaw(path: string, body: string): Promise<string> {
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'https:',
      hostname: 'localhost',
      port: t.port,
      path,
      headers: { host: hostHeader, 'content-type': 'application/json' },
      body,
    });
    let head = `POST ${path} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(signed.headers)) head += `${k}: ${v}\r\n`;
    head += `content-length: ${Buffer.byteLength(body)}\r\n\r\n`;
    return head + body;
  };
}

/**
 * Signs `size` requests for the operation, spread round robin over the key ids (encrypt) or
 * the prepared ciphertexts (decrypt); "mix" alternates the two. Writes them for replay.lua.
 */
export async function writeRequestPool(file: string, t: Target, op: Operation, keyIds: readonly string[], sealed: readonly Sealed[], size: number): Promise<void> {
  const sign = createSigner(t);
  const parts: Buffer[] = [];
  const aad = randomBytes(AAD_BYTES).toString('base64');
  for (let i = 0; i < size; i++) {
    const doEncrypt = op === 'encrypt' || (op === 'mix' && i % 2 === 0);
    let raw: string;
    if (doEncrypt) {
      const keyId = keyIds[i % keyIds.length]!;
      raw = await sign(`${t.uriPath}/keys/${keyId}/encrypt`, encryptBody(aad));
    } else {
      const s = sealed[i % sealed.length]!;
      raw = await sign(`${t.uriPath}/keys/${s.keyId}/decrypt`, decryptBody(s));
    }
    const bytes = Buffer.from(raw, 'utf8');
    parts.push(Buffer.from(`${bytes.length}\n`), bytes);
  }
  writeFileSync(file, Buffer.concat(parts));
}

export interface Answer {
  status: number;
  text: string;
}

/** Sends signed requests from Node (setup and sanity checks, not measurements). */
export function createClient(t: Target) {
  const agent = new Agent({ ca: t.caPem, keepAlive: true, maxSockets: 8 });
  const sign = createSigner(t);
  async function post(path: string, body: string): Promise<Answer> {
    const raw = await sign(path, body);
    const [head] = raw.split('\r\n\r\n', 1) as [string];
    const headers: Record<string, string> = {};
    for (const line of head.split('\r\n').slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i)] = line.slice(i + 2);
    }
    return new Promise((resolve, reject) => {
      const r = httpsRequest({ host: t.host, port: t.port, method: 'POST', path, headers, agent, servername: 'localhost' }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      r.on('error', reject);
      r.end(body);
    });
  }
  return {
    post,
    /** Encrypts once under each key so decrypt pools have real ciphertexts. */
    async seal(keyIds: readonly string[], aad: string, concurrency = 8): Promise<{ sealed: Sealed[]; encryptAnswer: string }> {
      const sealed: Sealed[] = new Array(keyIds.length);
      let encryptAnswer = '';
      let next = 0;
      const worker = async () => {
        while (next < keyIds.length) {
          const i = next++;
          const keyId = keyIds[i]!;
          const a = await post(`${t.uriPath}/keys/${keyId}/encrypt`, encryptBody(aad));
          if (a.status !== 200) throw new Error(`setup encrypt under ${keyId} answered ${a.status}: ${a.text}`);
          encryptAnswer = a.text;
          const b = JSON.parse(a.text) as Omit<Sealed, 'keyId' | 'aad'>;
          sealed[i] = { keyId, aad, ciphertext: b.ciphertext, initializationVector: b.initializationVector, authenticationTag: b.authenticationTag, ciphertextMetadata: b.ciphertextMetadata };
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      return { sealed, encryptAnswer };
    },
    close: () => agent.destroy(),
  };
}
