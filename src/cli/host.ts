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
  /** The PKCS#11 token, when [hsm] is configured. */
  hsm: HsmManagement | undefined;
  /** `keyhold import sample-proxy-config`: returns a report without secrets (issued credentials aside). */
  importSampleProxyConfig(text: string, opts: { dryRun: boolean }): Promise<object>;
}

export interface HsmManagement {
  /** Token, profile, sessions and a self-test on the health key. */
  status(): Promise<object>;
  /** Stores the user PIN sealed in storage (for hsm.pin_sealed = true). */
  setPin(pin: string): Promise<void>;
}

/**
 * What the CLI needs from the composition root. The CLI parses arguments and prints;
 * app/ decides how services are built (local database today, a remote admin API later).
 */
export interface CliHost {
  /** `settings`: dotted config settings from flags (e.g. 'seal.type', 'hsm.module'). */
  init(opts: GlobalOptions & { demo: boolean; settings?: Record<string, string | undefined> }): Promise<object>;
  /** Runs the server until a signal stops it. */
  start(opts: GlobalOptions & { xksListen?: string; initIfAbsent?: boolean }): Promise<void>;
  withServices<T>(opts: GlobalOptions, fn: (s: ManagementServices) => Promise<T>): Promise<T>;
}
