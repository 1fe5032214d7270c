import type { Operation } from './requests.js';
import type { Measurement } from './wrk.js';
import { describeOutcomes, serverErrorsOf } from './server-metrics.js';

export interface Machine {
  nproc: number;
  cpuModel: string;
  node: string;
  openssl: string;
  wrk: string | undefined;
  kernel: string;
  /** Per core: share of a 2 s spin loop that did not run (host or other processes), measured at the start. */
  stalledShare: number[];
}

export interface ScenarioResult {
  operation: Operation;
  connections: number;
  keyhold: Measurement[];
  baseline: Measurement[];
  median: Measurement;
  baselineMedian: Measurement;
  /** Median Keyhold req/s over median baseline req/s. */
  ratio: number;
  /** Largest server RSS seen during the Keyhold runs, MiB. */
  rssMaxMiB: number;
}

export interface VariantResult {
  id: string;
  title: string;
  skipped?: string;
  readyMs?: number[];
  readyMsDefaultWorkers?: number[];
  scenarios: ScenarioResult[];
}

export interface Target {
  name: string;
  goal: string;
  measured: string;
  met: boolean | undefined;
}

export interface BenchResult {
  startedAt: string;
  finishedAt: string;
  mode: 'quick' | 'full';
  runs: number;
  seconds: number;
  machine: Machine;
  method: string;
  variants: VariantResult[];
  targets: Target[];
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function medianOf(ms: readonly Measurement[]): Measurement {
  return {
    rps: median(ms.map((m) => m.rps)),
    p50Ms: median(ms.map((m) => m.p50Ms)),
    p99Ms: median(ms.map((m) => m.p99Ms)),
    p999Ms: median(ms.map((m) => m.p999Ms)),
    errors: ms.reduce((a, m) => a + m.errors, 0),
    errorKinds: [...new Set(ms.map((m) => m.errorKinds).filter((k) => k))].join('; '),
    requests: ms.reduce((a, m) => a + m.requests, 0),
    cpuUsPerRequest: median(ms.map((m) => m.cpuUsPerRequest)),
    foreignLoad: Math.max(...ms.map((m) => m.foreignLoad)),
    ...serverErrorsOf(ms.map((m) => m.serverErrors)),
  };
}

const n0 = (x: number) => Math.round(x).toLocaleString('en-US');
const ms = (x: number) => (x >= 10 ? x.toFixed(1) : x.toFixed(2));

export function markdown(r: BenchResult): string {
  const lines: string[] = [];
  lines.push(`Machine: ${r.machine.nproc} cores, ${r.machine.cpuModel}; Node ${r.machine.node}, OpenSSL ${r.machine.openssl}, wrk ${r.machine.wrk ?? '?'}, Linux ${r.machine.kernel}; a spin loop lost ${r.machine.stalledShare.map((x) => `${Math.round(x * 100)} %`).join(' / ')} of its time per core at the start.`);
  lines.push(`Mode: ${r.mode}; medians of ${r.runs} run(s) of ${r.seconds} s each; ${r.startedAt}. "other load" is the largest share of the server core that other processes used during a run of that point.`);
  lines.push('');
  lines.push('| variant | operation | conns | Keyhold req/s | baseline req/s | ratio | p50 ms | p99 ms | p99.9 ms | errors | server CPU µs/req | baseline CPU µs/req | max RSS MiB | other load |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const v of r.variants) {
    if (v.skipped) continue;
    for (const s of v.scenarios) {
      lines.push(
        `| ${v.id} | ${s.operation} | ${s.connections} | ${n0(s.median.rps)} | ${n0(s.baselineMedian.rps)} | ${s.ratio.toFixed(2)} | ${ms(s.median.p50Ms)} | ${ms(s.median.p99Ms)} | ${ms(s.median.p999Ms)} | ${s.median.errors} | ${Math.round(s.median.cpuUsPerRequest)} | ${Math.round(s.baselineMedian.cpuUsPerRequest)} | ${Math.round(s.rssMaxMiB)} | ${Math.round(Math.max(s.median.foreignLoad, s.baselineMedian.foreignLoad) * 100)} % |`,
      );
    }
  }
  const skipped = r.variants.filter((v) => v.skipped);
  if (skipped.length) {
    lines.push('');
    for (const v of skipped) lines.push(`- skipped ${v.id} (${v.title}): ${v.skipped}`);
  }
  const ready = r.variants.filter((v) => v.readyMs?.length);
  if (ready.length) {
    lines.push('');
    for (const v of ready) {
      lines.push(`- \`keyhold start\` ready (${v.id}): ${Math.round(median(v.readyMs!))} ms with --workers 1` + (v.readyMsDefaultWorkers?.length ? `, ${Math.round(median(v.readyMsDefaultWorkers))} ms with the default workers` : '') + ' (median, spawn to the "started" log line)');
    }
  }
  lines.push('');
  lines.push('| target | goal | measured | met |');
  lines.push('|---|---|---|---|');
  for (const t of r.targets) lines.push(`| ${t.name} | ${t.goal} | ${t.measured} | ${t.met === undefined ? 'n/a' : t.met ? 'yes' : '**no**'} |`);
  return lines.join('\n') + '\n';
}

/** The issue's targets, judged on the figures of this run. */
export function judgeTargets(variants: readonly VariantResult[], targetIds: readonly string[]): Target[] {
  const ran = variants.filter((v) => !v.skipped);
  const main = targetIds.map((id) => ran.find((v) => v.id === id)).find((v) => v !== undefined);
  const find = (v: VariantResult | undefined, op: Operation, c: number) => v?.scenarios.find((s) => s.operation === op && s.connections === c);
  const out: Target[] = [];
  const enc50 = find(main, 'encrypt', 50);
  const label = main ? ` (${main.id})` : '';
  // The targets as issue 16 restated them: same-run ratios to the bare-TLS baseline.
  out.push({ name: `encrypt, 50 connections, vs bare TLS${label}`, goal: '>= 0.30 x baseline', measured: enc50 ? `${enc50.ratio.toFixed(2)} x (${n0(enc50.median.rps)} req/s)` : 'not measured', met: enc50 ? enc50.ratio >= 0.3 : undefined });
  const off50 = find(ran.find((v) => v.id === 'software'), 'encrypt', 50);
  out.push({ name: 'encrypt, 50 connections, vs bare TLS, audit off (software)', goal: '>= 0.45 x baseline', measured: off50 ? `${off50.ratio.toFixed(2)} x (${n0(off50.median.rps)} req/s)` : 'not measured in this run', met: off50 ? off50.ratio >= 0.45 : undefined });
  const at10 = main?.scenarios.filter((s) => s.connections === 10) ?? [];
  const worst10 = at10.reduce((m, s) => Math.max(m, s.median.p99Ms), 0);
  out.push({ name: `p99 at 10 connections${label}`, goal: '<= 5 ms', measured: at10.length ? `${ms(worst10)} ms (worst of ${at10.map((s) => s.operation).join('/')})` : 'not measured', met: at10.length ? worst10 <= 5 : undefined });
  const scenarios = ran.flatMap((v) => v.scenarios);
  const errors = scenarios.reduce((a, s) => a + s.median.errors, 0);
  // What the server said those answers were (absent from runs made before it was recorded).
  const said = serverErrorsOf(scenarios.map((s) => s.median.serverErrors)).serverErrors;
  const kinds = said ? ` (server: ${describeOutcomes(said)})` : '';
  out.push({ name: 'errors, every level and variant', goal: '0', measured: `${errors}${kinds}`, met: ran.length ? errors === 0 : undefined });
  // The variants below change one thing against the realistic configuration (durable audit).
  // They run minutes apart on a shared machine whose speed drifts, so each is compared
  // through its ratio to the baseline measured beside it, not by raw req/s.
  const ref = ran.find((v) => v.id === 'software-audit');
  const refEnc = find(ref, 'encrypt', 50);
  const relative = (name: string, id: string, goal: string, min: number) => {
    const x = find(ran.find((v) => v.id === id), 'encrypt', 50);
    const rel = x && refEnc ? x.ratio / refEnc.ratio : undefined;
    out.push({
      name: `${name} (encrypt, 50 connections)`,
      goal,
      measured: x && refEnc && rel !== undefined ? `${rel.toFixed(2)} x (${n0(x.median.rps)} vs ${n0(refEnc.median.rps)} req/s; baselines ${n0(x.baselineMedian.rps)} vs ${n0(refEnc.baselineMedian.rps)})` : 'not measured in this run',
      met: rel !== undefined ? rel >= min : undefined,
    });
  };
  relative('100,000 keys vs 1 key', 'software-100k', 'within 15 %', 0.85);
  relative('audit log of 10,000,000 records vs empty', 'audit-10m', 'within 10 %', 0.9);
  relative('SoftHSM2 keys (worker threads, the default) vs software keys', 'softhsm', '>= 0.7 x', 0.7);
  relative('SoftHSM2 keys (dispatch = "inline") vs software keys', 'softhsm-inline', '>= 0.7 x', 0.7);
  const rss = (ran.find((v) => v.id === 'software-100k')?.scenarios ?? []).reduce((m, s) => Math.max(m, s.rssMaxMiB), 0);
  out.push({ name: 'resident memory with 100,000 keys (software-100k, every point)', goal: '<= 256 MiB', measured: rss ? `${Math.round(rss)} MiB` : 'not measured in this run', met: rss ? rss <= 256 : undefined });
  const ready = main?.readyMs?.length ? median(main.readyMs) : undefined;
  out.push({ name: '`keyhold start` ready', goal: '< 1 s', measured: ready !== undefined ? `${Math.round(ready)} ms` : 'not measured', met: ready !== undefined ? ready < 1000 : undefined });
  return out;
}
