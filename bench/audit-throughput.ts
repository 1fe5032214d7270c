/**
 * XKS throughput with the audit log off, durable (the default: the answer waits for the
 * commit) and not durable, measured in the same run, in alternating rounds; prints the
 * median requests/s of each and the ratio against "off".
 *
 *   npm run build && node dist/bench/audit-throughput.js [--seconds 5] [--rounds 5] [--connections 32] [--client wrk|node]
 *
 * Requests are signed once up front (SigV4 with @smithy/signature-v4) and replayed, so the
 * client spends its CPU on HTTPS, not on signing. The client is wrk (Debian package `wrk`,
 * replaying the signed requests from a Lua script) when it is installed, otherwise node's
 * https client, which costs more CPU per request. Client and server share this machine.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import { BIN, ROOT, runCli, type DemoInfo } from '../test/support/keyhold-harness.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    'log-level': { type: 'string', default: 'warn' },
    client: { type: 'string' },
  },
});
const hasWrk = (() => {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return (e as { status?: number }).status !== undefined; // wrk --version exits 1 but exists
  }
})();
const CLIENT = values.client ?? (hasWrk ? 'wrk' : 'node');
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONNECTIONS = Number(values.connections);

/** A server on a fresh data directory; ready when its banner names the port (any log level). */
interface Server {
  url: string;
  port: number;
  caPem: string;
  dataDir: string;
  demo: DemoInfo;
  child: ChildProcess;
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyhold-bench-'));
  const init = await runCli(['--data-dir', dataDir, '--json', 'init'], { env });
  if (init.code !== 0) throw new Error(init.stderr);
  const demo = (JSON.parse(init.stdout) as { demo: DemoInfo }).demo;
  const child = spawn(process.execPath, [BIN, '--data-dir', dataDir, 'start', '--xks-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on https:\/\/localhost:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`keyhold exited with ${code}: ${out}`)));
  });
  child.stdout!.resume();
  return { url: `https://localhost:${port}`, port, caPem: readFileSync(join(dataDir, 'tls', 'server.crt'), 'utf8'), dataDir, demo, child };
}

function stopServer(s: Server): Promise<void> {
  if (s.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    s.child.once('exit', () => resolve());
    s.child.kill('SIGTERM');
  });
}

interface Signed {
  path: string;
  headers: Record<string, string>;
  body: string;
}

async function presign(h: Server, n: number): Promise<Signed[]> {
  const u = new URL(h.url);
  const signer = new SignatureV4({ service: 'kms-xks-proxy', region: 'us-east-1', credentials: h.demo.credential, sha256: Hash.bind(null, 'sha256') });
  const out: Signed[] = [];
  for (let i = 0; i < n; i++) {
    const path = `${h.demo.uriPath}/keys/demo-key/encrypt`;
    const body = JSON.stringify({
      requestMetadata: {
        awsPrincipalArn: 'arn:aws:iam::111122223333:role/Bench',
        kmsKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
        kmsOperation: 'GenerateDataKey',
        kmsRequestId: `bench-${i}`,
      },
      plaintext: Buffer.alloc(32, i % 251).toString('base64'),
      encryptionAlgorithm: 'AES_GCM',
    });
    const headers = { host: u.host, 'content-type': 'application/json' };
    const signed = await signer.sign({ method: 'POST', protocol: 'https:', hostname: u.hostname, port: Number(u.port), path, headers, body });
    out.push({ path, headers: { ...(signed.headers as Record<string, string>), 'content-length': String(Buffer.byteLength(body)) }, body });
  }
  return out;
}

function send(h: Server, agent: Agent, r: Signed): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', servername: 'localhost', port: h.port, method: 'POST', path: r.path, headers: r.headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(r.body);
  });
}

async function measure(h: Server, pool: Signed[]): Promise<number> {
  const agent = new Agent({ ca: h.caPem, keepAlive: true, maxSockets: CONNECTIONS });
  let ok = 0;
  let bad = 0;
  let counting = false;
  let stop = false;
  let next = 0;
  const loops = Array.from({ length: CONNECTIONS }, async () => {
    while (!stop) {
      const status = await send(h, agent, pool[next++ % pool.length]!);
      if (!counting) continue;
      if (status === 200) ok++;
      else bad++;
    }
  });
  await new Promise((r) => setTimeout(r, 1000)); // warm-up: connections, caches, JIT
  counting = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  counting = false;
  const elapsed = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(loops);
  agent.destroy();
  if (bad) throw new Error(`${bad} requests failed`);
  return ok / elapsed;
}

/** wrk replays the signed requests in turn (one Lua table entry per request). */
function measureWithWrk(h: Server, pool: Signed[], scratch: string): number {
  const script = join(scratch, `requests-${h.port}.lua`);
  const lua = [
    'local reqs = {}',
    ...pool.map((r) => `reqs[#reqs + 1] = wrk.format("POST", [==[${r.path}]==], { ${Object.entries(r.headers).filter(([k]) => k !== 'content-length').map(([k, v]) => `[ [==[${k}]==] ] = [==[${v}]==]`).join(', ')} }, [==[${r.body}]==])`),
    'local i = 0',
    '-- wrk.format adds Content-Length itself.',
    'request = function() i = i % #reqs + 1; return reqs[i] end',
  ].join('\n');
  writeFileSync(script, lua);
  const out = execFileSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '-s', script, `https://127.0.0.1:${h.port}`], { encoding: 'utf8' });
  if (/Non-2xx or 3xx responses/.test(out) || /Socket errors/.test(out)) throw new Error(`wrk saw failures:\n${out}`);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!m) throw new Error(`cannot read wrk's output:\n${out}`);
  return Number(m[1]);
}

/** CPU time (user + system, all threads) the server process has used, in µs; Linux only. */
function cpuMicros(s: Server): number | undefined {
  try {
    const fields = readFileSync(`/proc/${s.child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
    return (ticks * 1e6) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const modes = {
  off: { KEYHOLD_AUDIT_ENABLED: 'false' },
  durable: {},
  'not-durable': { KEYHOLD_AUDIT_DURABLE: 'false' },
} as const;

const servers: Partial<Record<keyof typeof modes, Server>> = {};
const scratch = mkdtempSync(join(tmpdir(), 'keyhold-bench-wrk-'));
try {
  for (const [name, env] of Object.entries(modes) as [keyof typeof modes, Record<string, string>][]) {
    servers[name] = await startServer({ ...env, KEYHOLD_LOG_LEVEL: values['log-level']! });
  }
  const pools = Object.fromEntries(await Promise.all(Object.entries(servers).map(async ([n, h]) => [n, await presign(h, 2000)] as const)));
  const results: Record<string, number[]> = { off: [], durable: [], 'not-durable': [] };
  const cpuPerRequest: Record<string, number[]> = { off: [], durable: [], 'not-durable': [] };
  console.log(`node ${process.version}, client ${CLIENT}, ${CONNECTIONS} connections, ${SECONDS}s x ${ROUNDS} rounds per mode, server log level ${values['log-level']}`);
  for (let round = 0; round < ROUNDS; round++) {
    const order = (round % 2 ? ['not-durable', 'durable', 'off'] : ['off', 'durable', 'not-durable']) as (keyof typeof modes)[];
    for (const name of order) {
      const cpu0 = cpuMicros(servers[name]!);
      const rps = CLIENT === 'wrk' ? measureWithWrk(servers[name]!, pools[name]!, scratch) : await measure(servers[name]!, pools[name]!);
      const cpu1 = cpuMicros(servers[name]!);
      results[name]!.push(rps);
      // Includes the warm-up second of the node client; exact for wrk.
      const perRequest = cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / (rps * SECONDS) : undefined;
      if (perRequest !== undefined) cpuPerRequest[name]!.push(perRequest);
      console.log(`round ${round + 1} ${name.padEnd(11)} ${rps.toFixed(0)} req/s${perRequest !== undefined ? `, server CPU ${perRequest.toFixed(0)} µs/request` : ''}`);
    }
  }
  const base = median(results.off!);
  const cpuBase = cpuPerRequest.off!.length ? median(cpuPerRequest.off!) : undefined;
  console.log('\nmode         median req/s   vs off   median server CPU µs/request   vs off');
  for (const name of Object.keys(modes)) {
    const m = median(results[name]!);
    const c = cpuPerRequest[name]!.length ? median(cpuPerRequest[name]!) : undefined;
    const cpu = c !== undefined && cpuBase !== undefined ? `${c.toFixed(0).padStart(30)}   ${(c / cpuBase).toFixed(3)}` : '';
    console.log(`${name.padEnd(12)} ${m.toFixed(0).padStart(12)}   ${(m / base).toFixed(3)}${cpu}`);
  }
  const durable = servers.durable!;
  await stopServer(durable);
  const v = await runCli(['--data-dir', durable.dataDir, 'audit', 'verify']);
  console.log(`\ndurable server's log after the run: ${v.stdout.trim()}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
  for (const s of Object.values(servers)) {
    if (!s) continue;
    await stopServer(s);
    rmSync(s.dataDir, { recursive: true, force: true });
  }
}
