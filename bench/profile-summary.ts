/**
 * Summarises a V8 .cpuprofile (from `npm run bench -- --profile`): self time per function
 * and total (inclusive) time per function, top N each.
 *
 * Usage: node dist/bench/profile-summary.js FILE.cpuprofile [N] [FOCUS]
 * With FOCUS (a substring of a frame label), only time spent under that frame is counted.
 */
import { readFileSync } from 'node:fs';

interface Frame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface Node {
  id: number;
  callFrame: Frame;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const [file, nArg, focus] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile-summary FILE.cpuprofile [N]');
  process.exit(2);
}
const top = Number(nArg ?? 30);
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const selfUs = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
const label = (f: Frame) => {
  const short = f.url.replace(/^.*\/(node_modules\/|dist\/)/, '$1').replace(/^node:/, '');
  return `${f.functionName || '(anonymous)'} ${short ? `${short}:${f.lineNumber + 1}` : ''}`.trim();
};

const underFocus = (id: number) => {
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) if (label(byId.get(cur)!.callFrame).includes(focus!)) return true;
  return false;
};
if (focus) for (const id of [...selfUs.keys()]) if (!underFocus(id)) selfUs.delete(id);
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

const self = new Map<string, number>();
const incl = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  const l = label(n.callFrame);
  self.set(l, (self.get(l) ?? 0) + us);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const lab = label(byId.get(cur)!.callFrame);
    if (seen.has(lab)) continue;
    seen.add(lab);
    incl.set(lab, (incl.get(lab) ?? 0) + us);
  }
}

const pct = (us: number) => ((us / total) * 100).toFixed(1).padStart(5) + ' %';
const print = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [l, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${l}`);
};
console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled${focus ? ` under '${focus}'` : ''}`);
print('self time', self);
print('total time (inclusive)', incl);
