import { request, Agent } from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';

const Sha256 = Hash.bind(null, 'sha256');

export interface XksResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: Record<string, unknown>;
}

export interface XksCredential {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface SendOptions {
  method?: string;
  /** Raw body; JSON.stringify'd when it is an object. */
  body?: unknown;
  region?: string;
  service?: string;
  signingDate?: Date;
  extraHeaders?: Record<string, string>;
  /** Change the request after signing (tampering tests). */
  mutate?: (req: { path: string; headers: [string, string][]; body: Buffer }) => void;
  unsigned?: boolean;
  /**
   * Send x-amz-content-sha256 (signed). @smithy/signature-v4 adds it by default; AWS KMS
   * does not send it, so `false` signs like KMS and makes the verifier hash the body itself.
   */
  applyChecksum?: boolean;
  agent?: Agent;
}

/**
 * A client that signs XKS calls with @smithy/signature-v4 (an independent SigV4 signer),
 * as AWS KMS does, and sends them over real HTTPS.
 */
export function xksClient(opts: { url: string; caPem: string; uriPath: string; credential: XksCredential; region?: string; cert?: string; key?: string }) {
  const u = new URL(opts.url);
  const agent = new Agent({ ca: opts.caPem, keepAlive: true, ...(opts.cert ? { cert: opts.cert, key: opts.key } : {}) });

  async function send(path: string, o: SendOptions = {}): Promise<XksResponse> {
    const bodyText = o.body === undefined ? '' : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
    const headers: Record<string, string> = { host: u.host, 'content-type': 'application/json', ...o.extraHeaders };
    let signedHeaders = headers;
    if (!o.unsigned) {
      const signer = new SignatureV4({ service: o.service ?? 'kms-xks-proxy', region: o.region ?? opts.region ?? 'us-east-1', credentials: opts.credential, sha256: Sha256, applyChecksum: o.applyChecksum ?? true });
      const signed = await signer.sign({ method: o.method ?? 'POST', protocol: 'https:', hostname: u.hostname, port: Number(u.port), path, headers, body: bodyText }, { signingDate: o.signingDate ?? new Date() });
      signedHeaders = signed.headers as Record<string, string>;
    }
    const req = { path, headers: Object.entries(signedHeaders), body: Buffer.from(bodyText) };
    o.mutate?.(req);
    return new Promise((resolve, reject) => {
      const flat: string[] = [];
      for (const [k, v] of req.headers) flat.push(k, v);
      if (!req.headers.some(([k]) => k.toLowerCase() === 'content-length')) flat.push('content-length', String(req.body.length));
      const r = request({ host: u.hostname, port: u.port, method: o.method ?? 'POST', path: req.path, headers: flat as unknown as Record<string, string>, agent: o.agent ?? agent, servername: u.hostname }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            /* not JSON (ping, 405) */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
      });
      r.on('error', reject);
      r.end(req.body);
    });
  }

  const md = (op: string, extra: Record<string, string> = {}) => ({
    awsPrincipalArn: 'arn:aws:iam::111122223333:role/App',
    kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
    kmsOperation: op,
    kmsRequestId: `req-${Math.random().toString(36).slice(2)}`,
    ...extra,
  });

  return {
    send,
    agent,
    path: (suffix: string) => `${opts.uriPath}${suffix}`,
    requestMetadata: md,
    health: (o: SendOptions = {}) => send(`${opts.uriPath}/health`, { body: { requestMetadata: { kmsRequestId: 'h-1', kmsOperation: 'KmsHealthCheck' } }, ...o }),
    metadata: (keyId: string, o: SendOptions = {}) => send(`${opts.uriPath}/keys/${keyId}/metadata`, { body: { requestMetadata: { awsPrincipalArn: 'arn:aws:iam::111122223333:role/KeyAdmin', kmsOperation: 'CreateKey', kmsRequestId: 'm-1' } }, ...o }),
    encrypt: (keyId: string, fields: { plaintext: Buffer; aad?: Buffer; cdiv?: boolean; md?: Record<string, string> }, o: SendOptions = {}) =>
      send(`${opts.uriPath}/keys/${keyId}/encrypt`, {
        body: {
          requestMetadata: md('Encrypt', fields.md),
          plaintext: fields.plaintext.toString('base64'),
          encryptionAlgorithm: 'AES_GCM',
          ...(fields.aad ? { additionalAuthenticatedData: fields.aad.toString('base64') } : {}),
          ...(fields.cdiv ? { ciphertextDataIntegrityValueAlgorithm: 'SHA_256' } : {}),
        },
        ...o,
      }),
    decrypt: (keyId: string, fields: { ciphertext: string; initializationVector: string; authenticationTag: string; ciphertextMetadata?: string; aad?: Buffer; md?: Record<string, string> }, o: SendOptions = {}) =>
      send(`${opts.uriPath}/keys/${keyId}/decrypt`, {
        body: {
          requestMetadata: md('Decrypt', fields.md),
          ciphertext: fields.ciphertext,
          initializationVector: fields.initializationVector,
          authenticationTag: fields.authenticationTag,
          encryptionAlgorithm: 'AES_GCM',
          ...(fields.ciphertextMetadata !== undefined ? { ciphertextMetadata: fields.ciphertextMetadata } : {}),
          ...(fields.aad ? { additionalAuthenticatedData: fields.aad.toString('base64') } : {}),
        },
        ...o,
      }),
    close: () => agent.destroy(),
  };
}

export type XksClient = ReturnType<typeof xksClient>;

/** The four fields an encrypt answer hands to decrypt (ciphertext, IV, tag, metadata), as strings. */
export function sealedFields(e: XksResponse): { ciphertext: string; initializationVector: string; authenticationTag: string; ciphertextMetadata: string } {
  return {
    ciphertext: String(e.body.ciphertext),
    initializationVector: String(e.body.initializationVector),
    authenticationTag: String(e.body.authenticationTag),
    ciphertextMetadata: String(e.body.ciphertextMetadata),
  };
}

/** A client for the demo key store a harness created (`keyhold init` with the demo). */
export function demoXksClient(h: { url: string; caPem: string; demo?: { uriPath: string; credential: XksCredential } | undefined }): XksClient {
  if (!h.demo) throw new Error('the harness was started without the demo key store');
  return xksClient({ url: h.url, caPem: h.caPem, uriPath: h.demo.uriPath, credential: h.demo.credential });
}
