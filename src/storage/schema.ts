/** Kysely table types. Booleans are stored as 0/1, lists and policies as JSON text. */
export interface KeyStoresTable {
  id: string;
  name: string;
  prefix: string;
  regions: string;
  enabled: number;
  policy: string | null;
  created_at: string;
  updated_at: string;
}

export interface CredentialsTable {
  id: string;
  keystore_id: string;
  access_key_id: string;
  /** Sealed with AAD (credentials, id, secret). */
  secret_sealed: Buffer;
  created_at: string;
  revoked_at: string | null;
}

export interface KeysTable {
  id: string;
  keystore_id: string;
  external_id: string;
  protection: string;
  usage: string;
  enabled: number;
  current_version: number;
  aad_layout: string;
  created_at: string;
  updated_at: string;
}

export interface KeyVersionsTable {
  key_id: string;
  version: number;
  protection: string;
  /** Sealed with AAD (key_versions, keyId/version, material). */
  material_sealed: Buffer | null;
  hsm_label: string | null;
  hsm_id: string | null;
  created_at: string;
}

export interface MetaTable {
  name: string;
  value: string;
}

export interface Database {
  keystores: KeyStoresTable;
  credentials: CredentialsTable;
  keys: KeysTable;
  key_versions: KeyVersionsTable;
  meta: MetaTable;
}
