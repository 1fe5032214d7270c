/**
 * What every operation handler receives: the simulator's shared services (SimServices) and
 * the call being served (Call). Handlers are plain async functions over these.
 */
import type { z } from 'zod';
import type { Clock } from '../base/index.js';
import type { Caller, RegionState } from './model.js';
import type { RequestLogEntry, RequestLogWriter } from './request-log.js';
import type { XksProxyClient } from './xks-proxy.js';

export interface SecretBox {
  seal(secret: string): Buffer;
  unseal(sealed: Buffer): string;
}

export interface SimSettings {
  connectDelayMs: number;
  healthCheckIntervalMs: number;
  /** Minimum time between GetParametersForImport calls per account and Region; 0 = none. */
  importParametersIntervalMs: number;
}

export interface SimServices {
  clock: Clock;
  proxy: XksProxyClient;
  secrets: SecretBox;
  settings: SimSettings;
  log: RequestLogWriter;
  region(accountId: string, region: string): RegionState;
  allRegions(): Iterable<RegionState>;
  /** Runs a background task; close() waits for the ones still running. */
  background(task: () => Promise<void>, delayMs: number): void;
  newRequestId(): string;
}

export interface Call {
  sim: SimServices;
  caller: Caller;
  region: string;
  rs: RegionState;
  requestId: string;
  operation: string;
  /** The request log entry being built; handlers add the key, store and XKS ids. */
  entry: RequestLogEntry;
}

export interface Operation<S extends z.ZodType = z.ZodType> {
  input: S;
  run(call: Call, input: z.output<S>): Promise<Record<string, unknown>>;
}

export function op<S extends z.ZodType>(input: S, run: (call: Call, input: z.output<S>) => Promise<Record<string, unknown>>): Operation {
  return { input, run } as Operation;
}

/** Epoch ms → the epoch-seconds number KMS puts on the wire. */
export function wireTime(ms: number): number {
  return ms / 1000;
}
