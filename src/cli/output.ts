/** Printing for humans and for scripts (--json: exactly one JSON document on stdout). */
export interface Printer {
  result(value: unknown, human: () => string): void;
}

export function printer(json: boolean, out: NodeJS.WritableStream = process.stdout): Printer {
  return {
    result(value, human) {
      out.write(json ? JSON.stringify(value, null, 2) + '\n' : human() + '\n');
    },
  };
}

export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((r) => columns.map((c) => format(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

function format(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (Array.isArray(v)) return v.length ? v.join(',') : '-';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

export function fields(pairs: [string, unknown][]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `  ${(k + ':').padEnd(w + 1)} ${format(v)}`).join('\n');
}
