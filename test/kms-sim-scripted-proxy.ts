/**
 * A small XKS proxy for the simulator's own tests: real HTTPS (self-signed), SigV4
 * verification (service kms-xks-proxy), AES-256-GCM with ciphertextMetadata and CDIV as the
 * spec describes. Tests can make it misbehave (any status or body, slow answers, UNAVAILABLE
 * EKMs, a wrong CDIV) to check how the simulator maps each proxy failure, which Keyhold
 * itself would never produce. End-to-end tests use the real Keyhold instead.
 */
import { createServer, type Server } from 'node:https';
import { randomBytes } from 'node:crypto';
import { buildGcmAad, computeCdiv, createSigV4Verifier, gcmDecrypt, gcmEncrypt } from '../src/crypto/index.js';
import { decodeBase64Strict } from '../src/base/index.js';
import { selfSignedCertificate } from './kms-sim-support.js';

export interface ScriptedKey {
  material: Buffer;
  enabled: boolean;
  usage: string[];
  spec: string;
}

export interface ScriptedRequest {
  operation: 'health' | 'metadata' | 'encrypt' | 'decrypt';
  keyId: string | undefined;
  body: Record<string, unknown>;
  authorization: string;
  host: string;
}

export type Reply =
  | { status: number; body: unknown }
  | { status: number; raw: string }
  /** Wait, then answer normally. */
  | { delayMs: number }
  /** Answer normally but change the answer first. */
  | { mutate: (body: Record<string, unknown>) => void };

export interface ScriptedProxy {
  endpoint: string;
  uriPath: string;
  accessKeyId: string;
  secretAccessKey: string;
  caPem: string;
  keys: Map<string, ScriptedKey>;
  requests: ScriptedRequest[];
  ekmStatus: 'ACTIVE' | 'DEGRADED' | 'UNAVAILABLE';
  /** Decides a reply for a request that passed authentication; undefined = normal. */
  script: ((r: ScriptedRequest, n: number) => Reply | undefined) | undefined;
  addKey(id: string, opts?: Partial<ScriptedKey>): void;
  close(): Promise<void>;
}

const METADATA = Buffer.from([0x07]);

export async function startScriptedProxy(opts: { uriPath?: string } = {}): Promise<ScriptedProxy> {
  const { certPem, keyPem } = await selfSignedCertificate('localhost');
  const uriPath = opts.uriPath ?? '/tenant-a/kms/xks/v1';
  const accessKeyId = 'MFRGGZDFMZTWQ2LKNNWG23TPOA';
  const secretAccessKey = randomBytes(32).toString('base64');
  const verifier = createSigV4Verifier({ service: 'kms-xks-proxy', maxSkewMs: 5 * 60_000, now: () => Date.now() });
  let count = 0;

  const proxy: ScriptedProxy = {
    endpoint: '',
    uriPath,
    accessKeyId,
    secretAccessKey,
    caPem: certPem,
    keys: new Map(),
    requests: [],
    ekmStatus: 'ACTIVE',
    script: undefined,
    addKey(id, k = {}) {
      proxy.keys.set(id, { material: randomBytes(32), enabled: true, usage: ['ENCRYPT', 'DECRYPT'], spec: 'AES_256', ...k });
    },
    close: async () => undefined,
  };

  function normal(r: ScriptedRequest): { status: number; body: Record<string, unknown> } {
    const err = (status: number, errorName: string) => ({ status, body: { errorName } });
    if (r.operation === 'health') {
      return {
        status: 200,
        body: { xksProxyFleetSize: 1, xksProxyVendor: 'Test', xksProxyModel: 'Scripted 1', ekmVendor: 'Test', ekmFleetDetails: [{ id: 'ekm-1', model: 'mem', healthStatus: proxy.ekmStatus }] },
      };
    }
    const key = proxy.keys.get(r.keyId!);
    if (!key) return err(404, 'KeyNotFoundException');
    if (r.operation === 'metadata') return { status: 200, body: { keySpec: key.spec, keyUsage: key.usage, keyStatus: key.enabled ? 'ENABLED' : 'DISABLED' } };
    if (!key.enabled) return err(400, 'InvalidStateException');
    const b = r.body;
    const aad = typeof b.additionalAuthenticatedData === 'string' ? decodeBase64Strict(b.additionalAuthenticatedData) : undefined;
    if (r.operation === 'encrypt') {
      const pt = typeof b.plaintext === 'string' ? decodeBase64Strict(b.plaintext) : undefined;
      if (!pt || b.encryptionAlgorithm !== 'AES_GCM') return err(400, 'ValidationException');
      const out = gcmEncrypt(key.material, pt, buildGcmAad(aad, METADATA));
      const body: Record<string, unknown> = {
        ciphertext: out.ciphertext.toString('base64'),
        initializationVector: out.iv.toString('base64'),
        authenticationTag: out.tag.toString('base64'),
        ciphertextMetadata: METADATA.toString('base64'),
      };
      if (b.ciphertextDataIntegrityValueAlgorithm === 'SHA_256') {
        body.ciphertextDataIntegrityValue = computeCdiv({ aad, metadata: METADATA, iv: out.iv, ciphertext: out.ciphertext, tag: out.tag }).toString('base64');
      }
      return { status: 200, body };
    }
    const ct = typeof b.ciphertext === 'string' ? decodeBase64Strict(b.ciphertext) : undefined;
    const iv = typeof b.initializationVector === 'string' ? decodeBase64Strict(b.initializationVector) : undefined;
    const tag = typeof b.authenticationTag === 'string' ? decodeBase64Strict(b.authenticationTag) : undefined;
    const md = typeof b.ciphertextMetadata === 'string' ? decodeBase64Strict(b.ciphertextMetadata) : undefined;
    if (!ct || !iv || !tag) return err(400, 'ValidationException');
    const pt = gcmDecrypt(key.material, iv, ct, tag, buildGcmAad(aad, md));
    if (!pt) return err(400, 'InvalidCiphertextException');
    return { status: 200, body: { plaintext: pt.toString('base64') } };
  }

  const server: Server = createServer({ cert: certPem, key: keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const send = (status: number, text: string) => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(text);
      };
      const body = Buffer.concat(chunks);
      const path = req.url ?? '';
      if (!path.startsWith(uriPath + '/')) return send(404, '{"errorName":"InvalidUriPathException"}');
      const rest = path.slice(uriPath.length);
      const m = /^\/keys\/([A-Za-z0-9._-]+)\/(metadata|encrypt|decrypt)$/.exec(rest);
      if (rest !== '/health' && !m) return send(404, '{"errorName":"InvalidUriPathException"}');
      const auth = verifier.verify({ method: req.method ?? '', path, query: '', rawHeaders: req.rawHeaders, body }, (id) =>
        id === accessKeyId ? { secret: Buffer.from(proxy.secretAccessKey) } : undefined,
      );
      if (!auth.ok) return send(401, '{"errorName":"AuthenticationFailedException"}');
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch {
        return send(400, '{"errorName":"ValidationException"}');
      }
      const r: ScriptedRequest = {
        operation: m ? (m[2] as ScriptedRequest['operation']) : 'health',
        keyId: m?.[1],
        body: parsed,
        authorization: String(req.headers.authorization),
        host: String(req.headers.host),
      };
      proxy.requests.push(r);
      const reply = proxy.script?.(r, count++);
      if (reply && 'delayMs' in reply) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
      if (reply && 'raw' in reply) return send(reply.status, reply.raw);
      if (reply && 'body' in reply) return send(reply.status, JSON.stringify(reply.body));
      const answer = normal(r);
      if (reply && 'mutate' in reply && answer.status === 200) reply.mutate(answer.body);
      send(answer.status, JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  proxy.endpoint = `https://localhost:${port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return proxy;
}
