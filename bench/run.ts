/**
 * `npm run bench [-- options]`: measures Keyhold's XKS listener with wrk against a bare
 * node:https baseline measured in the same run, on pinned cores, and writes the results to
 * bench/results/ (JSON and Markdown). See docs/performance.md for the method.
 *
 * Options:
 *   --quick              one run of 3 s per point, quick variants only (under 2 minutes)
 *   --runs N             runs per point (default 3); the tables show medians
 *   --seconds S          length of one run (default 6)
 *   --variants a,b       only these variants (ids from bench/variants.ts)
 *   --operations a,b     encrypt, decrypt, mix (default all)
 *   --connections a,b    default 1,10,50
 *   --quiet-wait S       before each run, wait up to S seconds for other processes to go
 *                        quiet (default 60, quick 10); the load seen is reported per point
 *   --profile            run the server with node --cpu-prof (profiles in bench/results/profiles)
 *   --write-docs         replace the figures in docs/performance.md with this run's
 *   --rerender FILE      measure nothing: judge the targets of a saved result JSON again and
 *                        print its tables (with --write-docs, into docs/performance.md too)
 */
import { availableParallelism, cpus, release } from 'node:os';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createDataset, readCa, type Dataset } from './dataset.js';
import { cpuSeconds, haveTaskset, machineJiffies, pinSelf, sampleRss, spawnPinned, stalledShare, waitForQuiet, type Pinned } from './processes.js';
import { createClient, decryptBody, writeRequestPool, type Operation, type Target } from './requests.js';
import { judgeTargets, markdown, medianOf, type BenchResult, type Machine, type ScenarioResult, type VariantResult } from './report.js';
import { describeOutcomes, outcomeDelta, xksOutcomes } from './server-metrics.js';
import { VARIANTS, type Variant, type VariantSetup } from './variants.js';
import { runWrk, toMeasurement, wrkVersion, type Measurement } from './wrk.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
/** The server under test; KEYHOLD_BENCH_BIN points at another build's bin/keyhold.js for A/B runs. */
const BIN = process.env.KEYHOLD_BENCH_BIN ?? join(ROOT, 'bin', 'keyhold.js');
const LUA = join(ROOT, 'bench', 'replay.lua');
const RESULTS = join(ROOT, 'bench', 'results');
const DOCS = join(ROOT, 'docs', 'performance.md');

interface Options {
  quick: boolean;
  runs: number;
  seconds: number;
  warmupSeconds: number;
  variants: string[] | undefined;
  operations: Operation[];
  connections: number[];
  /** --connections was given: it overrides the variants' own lists. */
  connectionsGiven: boolean;
  profile: boolean;
  writeDocs: boolean;
  quietWaitSeconds: number;
  rerender: string | undefined;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, runs: 3, seconds: 6, warmupSeconds: 4, variants: undefined, operations: ['encrypt', 'decrypt', 'mix'], connections: [1, 10, 50], connectionsGiven: false, profile: false, writeDocs: false, quietWaitSeconds: 60, rerender: undefined };
  const list = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  let explicitRuns = false;
  let explicitSeconds = false;
  let explicitQuiet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => argv[++i] ?? usage(`${a} needs a value`);
    if (a === '--quick') o.quick = true;
    else if (a === '--runs') {
      o.runs = Number(next());
      explicitRuns = true;
    } else if (a === '--seconds') {
      o.seconds = Number(next());
      explicitSeconds = true;
    }
    else if (a === '--variants') o.variants = list(next());
    else if (a === '--operations') o.operations = list(next()) as Operation[];
    else if (a === '--connections') {
      o.connections = list(next()).map(Number);
      o.connectionsGiven = true;
    }
    else if (a === '--quiet-wait') {
      o.quietWaitSeconds = Number(next());
      explicitQuiet = true;
    } else if (a === '--profile') o.profile = true;
    else if (a === '--write-docs') o.writeDocs = true;
    else if (a === '--rerender') o.rerender = next();
    else usage(`unknown option ${a}`);
  }
  if (o.quick) {
    if (!explicitRuns) o.runs = 1;
    if (!explicitSeconds) o.seconds = 3;
    o.warmupSeconds = 2;
    if (!explicitQuiet) o.quietWaitSeconds = 10;
  }
  if (!(o.runs >= 1) || !(o.seconds >= 1)) usage('--runs and --seconds must be positive');
  for (const op of o.operations) if (!['encrypt', 'decrypt', 'mix'].includes(op)) usage(`unknown operation ${op}`);
  for (const c of o.connections) if (!Number.isInteger(c) || c < 1) usage(`bad connection count ${c}`);
  return o;
}

function usage(msg: string): never {
  console.error(`bench: ${msg}\nsee the header of bench/run.ts for the options`);
  process.exit(2);
}

function machine(): Machine {
  return {
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    openssl: process.versions.openssl,
    wrk: wrkVersion(),
    kernel: release(),
    stalledShare: Array.from({ length: availableParallelism() }, (_, i) => stalledShare(i)),
  };
}

const log = (s: string) => process.stdout.write(s + '\n');

function startSupportsWorkers(): boolean {
  const r = spawnSync(process.execPath, [BIN, 'start', '--help'], { encoding: 'utf8' });
  return /--workers/.test(r.stdout ?? '');
}

async function startKeyhold(
  ds: Dataset,
  core: number,
  o: { workers?: string; profileDir?: string; env?: Record<string, string> | undefined; metrics?: boolean },
): Promise<Pinned & { port: number; metricsPort: number | undefined }> {
  // The young-generation size every XKS-serving process runs with: cluster workers get it
  // from the primary, a single process (--workers 1) from its command line (docs/deployment.md).
  // KEYHOLD_BENCH_NODE_FLAGS adds node/V8 flags to the server under test (e.g. --trace-gc, with KEYHOLD_BENCH_SERVER_LOG).
  const extraFlags = (process.env.KEYHOLD_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const nodeFlags = ['--max-semi-space-size=8', ...extraFlags, ...(o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`] : [])];
  const args = [...nodeFlags, BIN, '--data-dir', ds.dataDir, 'start', '--xks-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', ...(o.workers ? ['--workers', o.workers] : [])];
  const p = await spawnPinned(core, process.execPath, args, {
    // The measured instance also serves Prometheus metrics, read between runs to tell which
    // answers were errors and why (wrk only counts them).
    env: { ...process.env, ...o.env, KEYHOLD_LOG_LEVEL: 'info', ...(o.metrics ? { KEYHOLD_METRICS_LISTEN: '127.0.0.1:0' } : {}) },
    ready: /"event":"started","xks":"[^"]*:(\d+)"(?:[^\n]*?"metrics":"[^"]*:(\d+)")?/,
  });
  return Object.assign(p, { port: Number(p.match[1]), metricsPort: p.match[2] ? Number(p.match[2]) : undefined });
}

async function startBaseline(ds: Dataset, core: number, answers: { encrypt: string; decrypt: string }, dir: string): Promise<Pinned & { port: number }> {
  const enc = join(dir, 'baseline-encrypt.json');
  const dec = join(dir, 'baseline-decrypt.json');
  writeFileSync(enc, answers.encrypt);
  writeFileSync(dec, answers.decrypt);
  const p = await spawnPinned(core, process.execPath, [join(ROOT, 'dist', 'bench', 'baseline-server.js'), ds.certFile, join(ds.dataDir, 'tls', 'server.key'), enc, dec], { ready: /BASELINE_READY (\d+)/ });
  return Object.assign(p, { port: Number(p.match[1]) });
}

/** Keys the requests use: spread evenly over all keys in storage. */
function poolKeys(ds: Dataset, n: number): string[] {
  const step = Math.max(1, Math.floor(ds.keyIds.length / n));
  const out: string[] = [];
  for (let i = 0; i < ds.keyIds.length && out.length < n; i += step) out.push(ds.keyIds[i]!);
  return out;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.rerender) return rerender(o.rerender, o.writeDocs);
  if (!haveTaskset()) usage('taskset (util-linux) is required to pin cores');
  if (!wrkVersion()) usage('wrk is required (Debian: apt-get install wrk)');
  const m = machine();
  const serverCore = 0;
  const loaderCore = m.nproc > 1 ? 1 : 0;
  if (m.nproc < 2) log('warning: one core only; server and loader share it, figures are not comparable');
  pinSelf(loaderCore);
  mkdirSync(RESULTS, { recursive: true });
  const profileDir = o.profile ? join(RESULTS, 'profiles') : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const workersFlag = startSupportsWorkers();
  const tmp = mkdtempSync(join(tmpdir(), 'keyhold-bench-'));
  const startedAt = new Date().toISOString();
  const began = performance.now();
  const selected = VARIANTS.filter((v) => (o.variants ? o.variants.includes(v.id) : !o.quick || v.quick));
  if (o.variants) for (const id of o.variants) if (!VARIANTS.some((v) => v.id === id)) usage(`unknown variant ${id} (known: ${VARIANTS.map((v) => v.id).join(', ')})`);
  log(`Keyhold benchmark (${o.quick ? 'quick' : 'full'}): ${m.nproc} cores, ${m.cpuModel}, Node ${m.node}; server on core ${serverCore}, wrk on core ${loaderCore}`);
  log(`${o.runs} run(s) x ${o.seconds} s per point; operations ${o.operations.join(', ')}; connections ${o.connections.join(', ')}`);

  const results: VariantResult[] = [];
  let baseline: (Pinned & { port: number }) | undefined;
  try {
    for (const v of selected) {
      const reason = v.unavailable(ROOT);
      if (reason) {
        log(`\n== ${v.id}: skipped — ${reason}`);
        results.push({ id: v.id, title: v.title, skipped: reason, scenarios: [] });
        continue;
      }
      log(`\n== ${v.id}: ${v.title}`);
      const r = await runVariant(v, o, { tmp, serverCore, loaderCore, workersFlag, profileDir, baseline: () => baseline, setBaseline: (b) => (baseline = b) });
      results.push(r);
    }
  } finally {
    await baseline?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }

  const targetIds = VARIANTS.filter((v) => v.target).map((v) => v.id);
  const result: BenchResult = {
    startedAt,
    finishedAt: new Date().toISOString(),
    mode: o.quick ? 'quick' : 'full',
    runs: o.runs,
    seconds: o.seconds,
    machine: m,
    method:
      'wrk -t1 pinned to the loader core replays XKS requests pre-signed with @smithy/signature-v4 over keep-alive TLS connections; ' +
      'Keyhold (keyhold start --workers 1, TLS, SigV4, info-level request log drained through a pipe) and the baseline (bare node:https, same TLS settings, fixed JSON answer of the same size) are pinned to the server core and measured alternately for every point.',
    variants: results,
    targets: judgeTargets(results, targetIds),
  };
  const md = markdown(result);
  const stamp = startedAt.replace(/[:.]/g, '-');
  writeFileSync(join(RESULTS, `bench-${stamp}.json`), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(RESULTS, `bench-${stamp}.md`), md);
  writeFileSync(join(RESULTS, 'latest.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(RESULTS, 'latest.md'), md);
  log('\n' + md);
  log(`results: bench/results/bench-${stamp}.json and .md (${Math.round((performance.now() - began) / 1000)} s)`);
  if (o.writeDocs) {
    writeDocs(md);
    log('docs/performance.md updated');
  }
}

interface RunContext {
  tmp: string;
  serverCore: number;
  loaderCore: number;
  workersFlag: boolean;
  profileDir: string | undefined;
  baseline(): (Pinned & { port: number }) | undefined;
  setBaseline(b: Pinned & { port: number }): void;
}

async function runVariant(v: Variant, o: Options, rc: RunContext): Promise<VariantResult> {
  const setup = (await v.prepare?.()) ?? {};
  try {
    return await measureVariant(v, o, rc, setup);
  } finally {
    await setup.cleanup?.();
  }
}

async function measureVariant(v: Variant, o: Options, rc: RunContext, setup: VariantSetup): Promise<VariantResult> {
  const t0 = performance.now();
  const env = setup.env;
  const ds = await createDataset(join(rc.tmp, v.id), { keys: v.keys, auditRecords: v.auditRecords, configToml: v.configToml, preInitToml: setup.toml, env, protection: setup.protection });
  log(`   data set: ${v.keys.toLocaleString('en-US')} key(s)${v.auditRecords ? `, ${v.auditRecords.toLocaleString('en-US')} audit records` : ''} in ${Math.round(performance.now() - t0)} ms`);

  // Start-up time: three cold starts, then the instance that is measured.
  const readyMs: number[] = [];
  const readyMsDefaultWorkers: number[] = [];
  for (let i = 0; i < 3; i++) {
    const s = await startKeyhold(ds, rc.serverCore, { ...(rc.workersFlag ? { workers: '1' } : {}), env });
    readyMs.push(s.readyMs);
    await s.stop();
  }
  if (rc.workersFlag) {
    for (let i = 0; i < 3; i++) {
      const s = await startKeyhold(ds, rc.serverCore, { env });
      readyMsDefaultWorkers.push(s.readyMs);
      await s.stop();
    }
  }
  log(`   ready in ${readyMs.map((x) => Math.round(x)).join(', ')} ms` + (readyMsDefaultWorkers.length ? ` (default workers: ${readyMsDefaultWorkers.map((x) => Math.round(x)).join(', ')} ms)` : ''));

  const server = await startKeyhold(ds, rc.serverCore, { ...(rc.workersFlag ? { workers: '1' } : {}), ...(rc.profileDir ? { profileDir: rc.profileDir } : {}), env, metrics: true });
  const target: Target = { host: '127.0.0.1', port: server.port, uriPath: ds.uriPath, region: ds.region, credential: ds.credential, caPem: readCa(ds) };
  const client = createClient(target);
  const scenarios: ScenarioResult[] = [];
  try {
    const keys = poolKeys(ds, v.poolKeys);
    const aad = Buffer.alloc(32, 7).toString('base64');
    const { sealed, encryptAnswer } = await client.seal(keys, aad);
    const s0 = sealed[0]!;
    const dec = await client.post(`${ds.uriPath}/keys/${s0.keyId}/decrypt`, decryptBody(s0));
    if (dec.status !== 200) throw new Error(`setup decrypt answered ${dec.status}: ${dec.text}`);
    if (!rc.baseline()) rc.setBaseline(await startBaseline(ds, rc.serverCore, { encrypt: encryptAnswer, decrypt: dec.text }, rc.tmp));
    const baseline = rc.baseline()!;
    const poolSize = Math.max(2000, keys.length);
    const file = join(rc.tmp, `${v.id}-pool.bin`);
    const keyholdUrl = `https://127.0.0.1:${server.port}`;
    const baselineUrl = `https://127.0.0.1:${baseline.port}`;
    const wrk = (url: string, connections: number, seconds: number) => runWrk({ core: rc.loaderCore, url, script: LUA, requestFile: file, connections, seconds });
    /** One measured wrk run, with the server's CPU time and other processes' load on the server core. */
    const measure = async (url: string, serverPid: number, connections: number): Promise<Measurement> => {
      const metricsPort = serverPid === server.pid ? server.metricsPort : undefined;
      const before = metricsPort ? await xksOutcomes(metricsPort) : undefined;
      const cpu0 = cpuSeconds(serverPid) ?? 0;
      const j0 = machineJiffies(rc.serverCore);
      const r = await runWrk({ core: rc.loaderCore, url, script: LUA, requestFile: file, connections, seconds: o.seconds });
      const j1 = machineJiffies(rc.serverCore);
      const serverSeconds = (cpuSeconds(serverPid) ?? 0) - cpu0;
      const foreignLoad = Math.max(0, (j1.busy - j0.busy - serverSeconds * 100) / Math.max(1, j1.total - j0.total));
      const m = toMeasurement(r, { serverSeconds, foreignLoad });
      if (before && metricsPort) {
        const failed = outcomeDelta(before, await xksOutcomes(metricsPort));
        if (Object.keys(failed).length) m.serverErrors = failed;
      }
      return m;
    };

    // Warm-up: JIT, key caches (every pool key is used at least once), TLS session state.
    for (const op of ['encrypt', 'decrypt'] as const) {
      await writeRequestPool(file, target, op, keys, sealed, poolSize);
      await wrk(keyholdUrl, 50, o.warmupSeconds);
      await wrk(baselineUrl, 50, Math.min(2, o.warmupSeconds));
    }

    const connections = o.connectionsGiven ? o.connections : (v.connections ?? o.connections);
    for (const op of o.operations) {
      for (const c of connections) {
        const k: Measurement[] = [];
        const b: Measurement[] = [];
        let rssMax = 0;
        for (let run = 0; run < o.runs; run++) {
          await waitForQuiet(o.quietWaitSeconds * 1000);
          await writeRequestPool(file, target, op, keys, sealed, poolSize);
          const stopRss = sampleRss([server.pid]);
          const kr = await measure(keyholdUrl, server.pid, c);
          rssMax = Math.max(rssMax, stopRss());
          const br = await measure(baselineUrl, baseline.pid, c);
          k.push(kr);
          b.push(br);
          log(
            `   ${op.padEnd(7)} c=${String(c).padStart(2)} run ${run + 1}: keyhold ${Math.round(kr.rps)} req/s p99 ${kr.p99Ms.toFixed(2)} ms, ${Math.round(kr.cpuUsPerRequest)} µs CPU/req${kr.errors ? ` ERRORS ${kr.errors} (${kr.errorKinds})` : ''}${kr.serverErrors ? ` server answered ${describeOutcomes(kr.serverErrors)}` : ''};` +
              ` baseline ${Math.round(br.rps)} req/s, ${Math.round(br.cpuUsPerRequest)} µs CPU/req${br.errors ? ` ERRORS ${br.errors} (${br.errorKinds})` : ''}; other load ${Math.round(Math.max(kr.foreignLoad, br.foreignLoad) * 100)} %`,
          );
        }
        const median = medianOf(k);
        const baselineMedian = medianOf(b);
        scenarios.push({ operation: op, connections: c, keyhold: k, baseline: b, median, baselineMedian, ratio: median.rps / baselineMedian.rps, rssMaxMiB: rssMax });
      }
    }
  } finally {
    client.close();
    await server.stop();
  }
  return { id: v.id, title: v.title, readyMs, ...(readyMsDefaultWorkers.length ? { readyMsDefaultWorkers } : {}), scenarios };
}

/** Judges a saved run's targets again with today's rules and prints (and optionally documents) it. */
function rerender(file: string, writeToDocs: boolean): void {
  const result = JSON.parse(readFileSync(file, 'utf8')) as BenchResult;
  result.targets = judgeTargets(
    result.variants,
    VARIANTS.filter((v) => v.target).map((v) => v.id),
  );
  const md = markdown(result);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  writeFileSync(file.replace(/\.json$/, '') + '.md', md);
  log(md);
  if (writeToDocs) {
    writeDocs(md);
    log('docs/performance.md updated');
  }
}

const BEGIN = '<!-- bench:begin -->';
const END = '<!-- bench:end -->';

function writeDocs(md: string): void {
  const doc = readFileSync(DOCS, 'utf8');
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`docs/performance.md has no ${BEGIN} … ${END} region`);
  writeFileSync(DOCS, doc.slice(0, a + BEGIN.length) + '\n' + md + doc.slice(b));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
