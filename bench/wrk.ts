import { spawn, spawnSync } from 'node:child_process';

/** One wrk measurement, as replay.lua reports it. */
export interface WrkResult {
  requests: number;
  durationUs: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latencyUs: { p50: number; p90: number; p99: number; p999: number; mean: number; max: number };
}

export interface Measurement {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  errors: number;
  /** The non-zero error counts by kind (wrk's connect/read/write/timeout; status = non-2xx answers). */
  errorKinds: string;
  requests: number;
  /** Server CPU time (user + system) per answered request, µs. Less sensitive to other load than req/s. */
  cpuUsPerRequest: number;
  /** Share of the server core used by other processes during the run (0..1). */
  foreignLoad: number;
  /** Keyhold only, when it answered anything but ok: its own count by errorName, and shed/quota refusals by reason (server-metrics.ts). */
  serverErrors?: Record<string, number>;
}

export function wrkVersion(): string | undefined {
  const r = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  return /wrk (\S+)/.exec(text)?.[1];
}

/**
 * Runs wrk pinned to `core` with one thread and `connections` keep-alive connections,
 * replaying the request file. wrk is closed-loop: each connection sends its next request
 * when the previous answer arrives, so latency is measured under the offered concurrency.
 */
export function runWrk(opts: { core: number; url: string; script: string; requestFile: string; connections: number; seconds: number; timeoutSeconds?: number }): Promise<WrkResult> {
  const args = ['-c', String(opts.core), 'wrk', '-t1', `-c${opts.connections}`, `-d${opts.seconds}s`, `--timeout`, `${opts.timeoutSeconds ?? 2}s`, '-s', opts.script, opts.url, '--', opts.requestFile];
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = /WRK_RESULT (\{.*\})/.exec(out)?.[1];
      if (code !== 0 || !line) return reject(new Error(`wrk failed (${code}):\n${out.slice(-2000)}`));
      resolve(JSON.parse(line) as WrkResult);
    });
  });
}

export function toMeasurement(r: WrkResult, cpu: { serverSeconds: number; foreignLoad: number }): Measurement {
  const e = r.errors;
  return {
    cpuUsPerRequest: r.requests > 0 ? (cpu.serverSeconds * 1e6) / r.requests : NaN,
    foreignLoad: cpu.foreignLoad,
    rps: r.requests / (r.durationUs / 1e6),
    p50Ms: r.latencyUs.p50 / 1000,
    p99Ms: r.latencyUs.p99 / 1000,
    p999Ms: r.latencyUs.p999 / 1000,
    errors: e.connect + e.read + e.write + e.status + e.timeout,
    errorKinds: Object.entries(e)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', '),
    requests: r.requests,
  };
}
