import { Gauge, type Registry } from 'prom-client';

/**
 * Free space where the audit log is: keyhold_audit_disk_free_bytes, and keyhold_audit_disk_low
 * (1 below the configured watermark, when health is DEGRADED too). Returns the update.
 */
export function auditDiskGauges(registry: Registry): (s: { freeBytes: number; low: boolean }) => void {
  const free = new Gauge({ name: 'keyhold_audit_disk_free_bytes', help: 'Free bytes on the file system that holds the audit log', registers: [registry] });
  const low = new Gauge({ name: 'keyhold_audit_disk_low', help: '1 when free space where the audit log is has fallen below the watermark ([audit] disk_min_free_*)', registers: [registry] });
  return (s) => {
    free.set(s.freeBytes);
    low.set(s.low ? 1 : 0);
  };
}
