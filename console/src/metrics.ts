// Reads the Prometheus text exposition of /metrics (the few series the overview shows).

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    const value = Number(m[3]);
    if (Number.isFinite(value)) out.push({ name: m[1]!, labels, value });
  }
  return out;
}

export interface StoreTraffic {
  /** Calls answered so far, per key store. */
  total: Map<string, number>;
  /** Calls answered with an error so far, per key store. */
  errors: Map<string, number>;
}

export function trafficOf(samples: Sample[]): StoreTraffic {
  const total = new Map<string, number>();
  const errors = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== 'keyhold_xks_requests_total') continue;
    const ks = s.labels.key_store ?? '(none)';
    total.set(ks, (total.get(ks) ?? 0) + s.value);
    if (s.labels.outcome !== 'ok') errors.set(ks, (errors.get(ks) ?? 0) + s.value);
  }
  return { total, errors };
}

/** A gauge's value per key store (certificate days to expire, credential age). */
export function perStore(samples: Sample[], name: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of samples) if (s.name === name) m.set(s.labels.key_store ?? '(none)', s.value);
  return m;
}
