import { closeSync, constants, createReadStream, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { fail } from '../base/index.js';
import { auditAdminAction, SEGMENT_NAME_RE, type AdminActor, type ArchivePlan, type AuditReadService, type AuditArchiveOps, type AuditArchiveResult, type AuditSegmentInfo, type AuditService } from '../domain/index.js';

/** The name the retention task and the admin API give the segment of records before `before`. */
export function segmentName(before: string): string {
  return `audit-before-${before.replace(/[:.]/g, '-')}.jsonl`;
}

/**
 * Writes the records before `before` into a new segment file in `dir` (mode 0600, synced)
 * and only then removes them from the log. Nothing to archive: the file is removed and
 * `removed` is 0 (`file` undefined). The caller records the action.
 */
export function archiveInto(audit: Pick<AuditService, 'archive'>, dir: string, before: string): Promise<ArchivedInto> {
  // One archive at a time in this process (the retention task, the admin API, approvals):
  // two at once would each plan to remove the same records.
  const run = archiving.then(() => archiveNow(audit, dir, before));
  archiving = run.catch(() => undefined);
  return run;
}

interface ArchivedInto {
  file: string | undefined;
  name: string;
  removed: number;
  bytes: number;
  chains: ArchivePlan['chains'];
}

let archiving: Promise<unknown> = Promise.resolve();

async function archiveNow(audit: Pick<AuditService, 'archive'>, dir: string, before: string): Promise<ArchivedInto> {
  const name = segmentName(before);
  const file = join(dir, name);
  let fd: number;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    fd = openSync(file, 'wx', 0o600);
  } catch (e) {
    if ((e as { code?: string }).code === 'EEXIST') return fail('Conflict', `the segment ${name} already exists in the archive directory; nothing was archived`);
    return fail('Unsupported', `cannot write a segment into the archive directory ([audit] archive_dir = ${dir}): ${(e as { code?: string }).code ?? String(e)}; nothing was archived`);
  }
  let plan: ArchivePlan;
  let bytes = 0;
  try {
    plan = await audit.archive(before, async (text) => {
      bytes += writeSync(fd, text);
    });
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(file, { force: true });
    throw e;
  }
  closeSync(fd);
  if (plan.chains.reduce((n, c) => n + c.count, 0) === 0) {
    rmSync(file, { force: true });
    return { file: undefined, name, removed: 0, bytes: 0, chains: [] };
  }
  // The segment is on disk: only now are the records removed.
  const removed = await plan.commit();
  return { file, name, removed, bytes, chains: plan.chains };
}

/** Archiving on demand into archive_dir (the admin API's route and its approval requests). */
export function auditArchiveOps(audit: Pick<AuditService, 'archive' | 'checkArchive'>, dir: string): AuditArchiveOps {
  return {
    check: (before) => audit.checkArchive(before),
    async archive(before): Promise<AuditArchiveResult> {
      const cutoff = await audit.checkArchive(before);
      const r = await archiveInto(audit, dir, cutoff);
      if (r.file === undefined) fail('ValidationFailed', `no audit record before ${cutoff} can be archived; nothing was archived`);
      return { file: r.name, before: cutoff, removed: r.removed, bytes: r.bytes, chains: r.chains };
    },
  };
}

/** Largest trailer read when listing (a trailer names each chain once: a few hundred bytes per chain). */
const MAX_TRAILER = 1024 * 1024;

function trailerOf(fd: number, size: number): Record<string, unknown> | undefined {
  const n = Math.min(size, MAX_TRAILER);
  const buf = Buffer.alloc(n);
  readSync(fd, buf, 0, n, size - n);
  const lines = buf.toString('utf8').split('\n').filter((l) => l.length > 0);
  try {
    const t = JSON.parse(lines[lines.length - 1] ?? '') as Record<string, unknown>;
    return t.type === 'keyhold-audit-segment-end' ? t : undefined;
  } catch {
    return undefined;
  }
}

const chainList = (v: unknown): AuditSegmentInfo['chains'] =>
  Array.isArray(v)
    ? (v as Record<string, unknown>[]).map((c) => ({ chain: String(c.chain), from: Number(c.from), to: Number(c.to), count: Number(c.count) })).filter((c) => Number.isSafeInteger(c.from) && Number.isSafeInteger(c.count))
    : [];

/** Opens a regular file in dir by a validated name, never following a symbolic link. */
function openSegment(dir: string, name: string): { fd: number; size: number; mtime: Date } {
  if (!SEGMENT_NAME_RE.test(name)) fail('ValidationFailed', `'${name.slice(0, 64)}' is not a segment name (letters, digits, '.', '_', '-', ending in .jsonl; no directories)`);
  let fd: number;
  try {
    fd = openSync(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ELOOP') fail('NotFound', `no segment ${name} in the archive directory`);
    throw e;
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    fail('NotFound', `no segment ${name} in the archive directory`);
  }
  return { fd, size: st.size, mtime: st.mtime };
}

/** The segments in archive_dir (oldest first) and their exact bytes. */
export function segmentStore(dir: string) {
  return {
    async list(): Promise<AuditSegmentInfo[]> {
      let names: string[];
      try {
        names = readdirSync(dir, { withFileTypes: true })
          .filter((d) => d.isFile() && SEGMENT_NAME_RE.test(d.name))
          .map((d) => d.name);
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOENT') return [];
        throw e;
      }
      const out: AuditSegmentInfo[] = [];
      for (const name of names.sort()) {
        let s: ReturnType<typeof openSegment>;
        try {
          s = openSegment(dir, name);
        } catch {
          continue; // removed meanwhile
        }
        try {
          const t = s.size > 0 ? trailerOf(s.fd, s.size) : undefined;
          const chains = chainList(t?.chains);
          out.push({
            name,
            bytes: s.size,
            createdAt: typeof t?.time === 'string' ? t.time : s.mtime.toISOString(),
            before: typeof t?.before === 'string' ? t.before : null,
            records: t ? chains.reduce((n, c) => n + c.count, 0) : null,
            chains,
          });
        } finally {
          closeSync(s.fd);
        }
      }
      return out.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.name < b.name ? -1 : 1));
    },
    /** The segment's bytes as a stream, and its size. */
    async open(name: string): Promise<{ bytes: number; stream: Readable }> {
      const s = openSegment(dir, name);
      return { bytes: s.size, stream: createReadStream('', { fd: s.fd, start: 0, end: Math.max(0, s.size - 1), autoClose: true }) };
    },
  };
}

export type SegmentStore = ReturnType<typeof segmentStore>;

/** Streams a segment to a new file (mode 0600); a partial file is removed. */
export async function copySegment(from: Readable, file: string): Promise<{ bytes: number }> {
  let bytes = 0;
  from.on('data', (c: Buffer) => void (bytes += c.length));
  const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  try {
    await pipeline(from, out);
  } catch (e) {
    if ((e as { code?: string }).code !== 'EEXIST') rmSync(file, { force: true });
    throw e;
  }
  return { bytes };
}

/**
 * The CLI's archive_dir on the data directory: archive into it (recorded as the local OS
 * user, like every local change), list it, copy a segment out of it.
 */
export function localArchiveDir(audit: AuditService, dir: string, who: AdminActor): Required<Pick<AuditReadService, 'archiveToDir' | 'segments' | 'downloadSegment'>> {
  const ops = auditArchiveOps(audit, dir);
  const store = segmentStore(dir);
  return {
    archiveToDir: (before) =>
      auditAdminAction(audit, who, { action: 'audit.archive', target: 'audit-log', change: { before } }, () => ops.archive(before), (r) => ({ before: r.before, file: r.file, removed: r.removed, chains: r.chains })),
    segments: () => store.list(),
    downloadSegment: async (name, file) => copySegment((await store.open(name)).stream, file),
  };
}
