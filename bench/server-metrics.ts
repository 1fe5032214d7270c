import { request } from 'node:http';

/**
 * What the server says it answered, from its Prometheus metrics: XKS calls by outcome (ok,
 * or the errorName), and calls the overload guard or a quota refused, by reason. wrk only
 * counts non-2xx answers; this tells a shed call (ThrottlingException, queue_time) from a
 * failure (InternalException). Counters are summed over operation and key store.
 */
export type Outcomes = Record<string, number>;

const SERIES = [
  { metric: 'keyhold_xks_requests_total', label: 'outcome', prefix: '' },
  { metric: 'keyhold_xks_shed_total', label: 'reason', prefix: 'shed:' },
  { metric: 'keyhold_xks_throttled_total', label: 'key_store', prefix: 'quota:' },
];

export function parseOutcomes(text: string): Outcomes {
  const out: Outcomes = {};
  for (const line of text.split('\n')) {
    for (const s of SERIES) {
      if (!line.startsWith(s.metric + '{')) continue;
      const label = new RegExp(`[{,]${s.label}="([^"]*)"`).exec(line)?.[1];
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (label === undefined || !Number.isFinite(value)) continue;
      const name = s.prefix + label;
      out[name] = (out[name] ?? 0) + value;
    }
  }
  return out;
}

export function xksOutcomes(port: number): Promise<Outcomes> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(parseOutcomes(text)) : reject(new Error(`metrics answered ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('metrics did not answer in 5 s')));
    req.on('error', reject);
    req.end();
  });
}

/** Everything but 'ok' that grew between the two readings. */
export function outcomeDelta(before: Outcomes, after: Outcomes): Outcomes {
  const out: Outcomes = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (k !== 'ok' && d > 0) out[k] = d;
  }
  return out;
}

/** Several runs' server-side error counts added up; absent when every run answered ok. */
export function serverErrorsOf(all: readonly (Outcomes | undefined)[]): { serverErrors?: Outcomes } {
  const out: Outcomes = {};
  for (const o of all) for (const [k, n] of Object.entries(o ?? {})) out[k] = (out[k] ?? 0) + n;
  return Object.keys(out).length ? { serverErrors: out } : {};
}

export const describeOutcomes = (o: Outcomes): string =>
  Object.entries(o)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
