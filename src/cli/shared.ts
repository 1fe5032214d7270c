import type { Command } from 'commander';
import { keyState, type Key } from '../domain/index.js';
import type { GlobalOptions, ManagementServices } from './host.js';

/** A mistake in how the command was called (exit code 2). */
export class UsageError extends Error {}

export function keyView(k: Key, keyStoreName?: string) {
  return {
    keyId: k.externalId,
    keyStore: keyStoreName ?? k.keyStoreId,
    protection: k.protection,
    exportable: k.exportable,
    origin: k.origin,
    usage: k.usage,
    enabled: k.enabled,
    state: keyState(k),
    currentVersion: k.currentVersion,
    description: k.description,
    tags: k.tags,
    rotationPeriodDays: k.rotationPeriodDays,
    nextRotationAt: k.nextRotationAt,
    expiresAt: k.expiresAt,
    deletionDate: k.deletionDate,
    createdAt: k.createdAt,
    updatedAt: k.updatedAt,
  };
}

/** A key as printed, naming its key store (as `key list` and `key show` do), not the store's internal id. */
export async function namedKeyView(s: ManagementServices, k: Key) {
  const ks = (await s.keyStores.list()).find((x) => x.id === k.keyStoreId);
  return keyView(k, ks?.name);
}

export interface LifecycleOptions {
  description?: string;
  tag?: string[];
  rotationDays?: string;
  expiresAt?: string;
}

/** Turns --description/--tag/--rotation-days/--expires-at into a lifecycle patch. */
export function lifecycleFromOptions(o: LifecycleOptions & { noRotation?: boolean; noExpiry?: boolean }) {
  const out: { description?: string; tags?: Record<string, string>; rotationPeriodDays?: number | null; expiresAt?: string | null } = {};
  if (o.description !== undefined) out.description = o.description;
  if (o.tag !== undefined) {
    out.tags = {};
    for (const t of o.tag) {
      const i = t.indexOf('=');
      if (i <= 0) throw new UsageError(`--tag '${t}' must be key=value`);
      out.tags[t.slice(0, i)] = t.slice(i + 1);
    }
  }
  if (o.rotationDays !== undefined) {
    const n = Number(o.rotationDays);
    if (!Number.isInteger(n)) throw new UsageError(`--rotation-days '${o.rotationDays}' must be a whole number`);
    out.rotationPeriodDays = n;
  }
  if (o.noRotation) out.rotationPeriodDays = null;
  if (o.expiresAt !== undefined) out.expiresAt = o.expiresAt;
  if (o.noExpiry) out.expiresAt = null;
  return out;
}

export function globalsOf(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

