import type { Key, KeyStore } from './model.js';
import { uriPathOf } from './keystore-service.js';

/** Key stores and keys at a glance (`keyhold status`). */
export interface Inventory {
  keyStores: { name: string; uriPath: string; enabled: boolean; regions: string[]; keys: number }[];
  keys: { total: number; enabled: number; software: number; hsm: number };
}

export function inventoryOf(stores: readonly KeyStore[], keys: readonly Key[]): Inventory {
  return {
    keyStores: stores.map((ks) => ({ name: ks.name, uriPath: uriPathOf(ks), enabled: ks.enabled, regions: ks.regions, keys: keys.filter((k) => k.keyStoreId === ks.id).length })),
    keys: { total: keys.length, enabled: keys.filter((k) => k.enabled).length, software: keys.filter((k) => k.protection === 'software').length, hsm: keys.filter((k) => k.protection === 'hsm').length },
  };
}
