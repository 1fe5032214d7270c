/**
 * Micro-benchmarks of the hot path's pieces, in process, for judging one optimisation at a
 * time (the end-to-end figures come from `npm run bench`). Prints the median time per call
 * of nine batches. Usage: node dist/bench/micro.js [filter]
 */
import { createSecretKey, randomBytes } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import { pino } from 'pino';
import { createLogger } from '../src/app/logging.js';
import { createSigV4Verifier, gcmEncrypt } from '../src/crypto/index.js';
import { DEFAULT_LIMITS, parseEncrypt } from '../src/xks/wire.js';
import { encryptBody } from './requests.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

/** Batches of 100 calls with a turn of the event loop between them (so I/O and GC keep up). */
async function time(name: string, calls: number, fn: () => void): Promise<void> {
  const batch = async () => {
    let busy = 0n;
    for (let done = 0; done < calls; done += 100) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 100; i++) fn();
      busy += process.hrtime.bigint() - t0;
      await tick();
    }
    return Number(busy) / calls;
  };
  await batch(); // warm-up
  const per: number[] = [];
  for (let b = 0; b < 9; b++) per.push(await batch());
  per.sort((a, b) => a - b);
  console.log(`${name.padEnd(40)} ${(per[4]! / 1000).toFixed(2).padStart(8)} µs/call`);
}

const filter = process.argv[2];
const want = (n: string) => !filter || n.includes(filter);

const body = encryptBody(randomBytes(32).toString('base64'));
const secret = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH';
const credential = { accessKeyId: 'AKIAIOSFODNN7EXAMPLEAAAA', secretAccessKey: secret };
const signer = new SignatureV4({ service: 'kms-xks-proxy', region: 'us-east-1', credentials: credential, sha256: Hash.bind(null, 'sha256') });
const path = '/bench/kms/xks/v1/keys/bench-key-0/encrypt';
const signed = await signer.sign({ method: 'POST', protocol: 'https:', hostname: 'localhost', port: 8443, path, headers: { host: 'localhost:8443', 'content-type': 'application/json' }, body });
const rawHeaders: string[] = [];
for (const [k, v] of Object.entries(signed.headers)) rawHeaders.push(k, v);
rawHeaders.push('content-length', String(Buffer.byteLength(body)), 'connection', 'keep-alive');
const raw = Buffer.from(body);

if (want('sigv4')) {
  const verifier = createSigV4Verifier({ service: 'kms-xks-proxy', maxSkewMs: 300_000, now: () => Date.now() });
  const cred = { secret: Buffer.from(secret) };
  const req = { method: 'POST', path, query: '', rawHeaders, body: raw };
  if (!verifier.verify(req, () => cred).ok) throw new Error('micro: the signed request does not verify');
  await time('sigv4 verify', 10_000, () => void verifier.verify(req, () => cred));
}

if (want('wire')) {
  await time('JSON.parse + parseEncrypt', 10_000, () => void parseEncrypt(JSON.parse(raw.toString('utf8')), DEFAULT_LIMITS));
}

if (want('gcm')) {
  const key = createSecretKey(randomBytes(32));
  const pt = randomBytes(64);
  const aad = randomBytes(40);
  await time('gcmEncrypt (64 bytes)', 10_000, () => void gcmEncrypt(key, pt, aad));
}

if (want('log')) {
  const log = createLogger({ log: { level: 'info' } }, pino.destination({ dest: '/dev/null', sync: false }) as unknown as NodeJS.WritableStream);
  const line = { event: 'xks', kmsRequestId: 'f4a1e3d2-1b2c-4d5e-8f90-123456789abc', operation: 'encrypt', kmsOperation: 'Encrypt', keyStore: 'bench', key: 'bench-key-0', keyVersion: 1, status: 200, outcome: 'ok', latencyMs: 0.123 };
  await time('request log line (pino, info)', 10_000, () => log.info(line, 'xks call'));
}
