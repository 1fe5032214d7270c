import type { AuditReadService, KeyService, KeyStoreService } from '../domain/index.js';

/** Options every command takes. */
export interface GlobalOptions {
  dataDir?: string;
  config?: string;
  json?: boolean;
}

export interface ManagementServices {
  keyStores: KeyStoreService;
  keys: KeyService;
  audit: AuditReadService;
}

/**
 * What the CLI needs from the composition root. The CLI parses arguments and prints;
 * app/ decides how services are built (local database today, a remote admin API later).
 */
export interface CliHost {
  init(opts: GlobalOptions & { demo: boolean }): Promise<object>;
  /** Runs the server until a signal stops it. */
  start(opts: GlobalOptions & { xksListen?: string; initIfAbsent?: boolean }): Promise<void>;
  withServices<T>(opts: GlobalOptions, fn: (s: ManagementServices) => Promise<T>): Promise<T>;
}
