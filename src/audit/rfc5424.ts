import type { AuditEntry } from '../domain/audit-model.js';

/**
 * RFC 5424 syslog messages for audit records:
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - BOM{"chain":..,"seq":..,"kind":..,...,"prev":..,"mac":..}
 *
 * PRI = facility * 8 + severity. MSGID is the record kind (xks, admin). No structured data;
 * the message is the record as `audit export` writes it (UTF-8 JSON, so it starts with a
 * BOM as §6.4 asks), including seq and MACs, so a receiver holding the audit key could
 * check it against the chain.
 */
export interface SyslogHeader {
  facility: number;
  hostname: string;
  appName: string;
  procId: string;
}

export const SEVERITY = { warning: 4, notice: 5, informational: 6 } as const;

const BOM = '\uFEFF';

/** PRINTUSASCII (33..126), at most `max` characters; the NILVALUE when nothing is left. */
export function headerField(value: string | undefined, max: number): string {
  const v = (value ?? '').replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return v === '' ? '-' : v;
}

export function severityOf(e: AuditEntry): number {
  const r = e.record;
  if (r.outcome === 'ok') return r.kind === 'admin' ? SEVERITY.notice : SEVERITY.informational;
  if (r.kind === 'admin') return SEVERITY.warning;
  return r.errorName === 'AccessDeniedException' || r.errorName === 'AuthenticationFailedException' ? SEVERITY.warning : SEVERITY.notice;
}

export function formatRfc5424(e: AuditEntry, h: SyslogHeader): string {
  if (!Number.isInteger(h.facility) || h.facility < 0 || h.facility > 23) throw new RangeError(`syslog facility ${h.facility} is not 0..23`);
  const pri = h.facility * 8 + severityOf(e);
  const time = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/.test(e.record.time) ? e.record.time : '-';
  const msg = JSON.stringify({ ...(e.chain !== undefined && { chain: e.chain }), seq: e.seq, ...e.record, prev: e.prev, mac: e.mac });
  return `<${pri}>1 ${time} ${headerField(h.hostname, 255)} ${headerField(h.appName, 48)} ${headerField(h.procId, 128)} ${headerField(e.record.kind, 32)} - ${BOM}${msg}`;
}

/** A signed head checkpoint as `keyhold audit checkpoint` prints it (see domain/audit-service.ts). */
export interface SignedCheckpoint {
  time: string;
}

/**
 * A checkpoint as a syslog message: MSGID "checkpoint", severity notice, the signed document
 * as the message. A receiver keeps these outside Keyhold; `keyhold audit verify --checkpoint`
 * takes any one of them (the message after the BOM) and proves the log still holds
 * everything up to it.
 */
export function formatRfc5424Checkpoint(doc: SignedCheckpoint, h: SyslogHeader): string {
  if (!Number.isInteger(h.facility) || h.facility < 0 || h.facility > 23) throw new RangeError(`syslog facility ${h.facility} is not 0..23`);
  const pri = h.facility * 8 + SEVERITY.notice;
  const time = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/.test(doc.time) ? doc.time : '-';
  return `<${pri}>1 ${time} ${headerField(h.hostname, 255)} ${headerField(h.appName, 48)} ${headerField(h.procId, 128)} checkpoint - ${BOM}${JSON.stringify(doc)}`;
}

/** Octet-counting framing for stream transports (RFC 6587 §3.4.1, RFC 5425 §4.3): "LEN SP MSG". */
export function octetCountingFrame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}
