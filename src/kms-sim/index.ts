/** Public surface of the local AWS KMS simulator (`keyhold kms-sim`). */
export { createKmsSimulator, SUPPORTED_OPERATIONS, type KmsSimulator, type KmsSimulatorOptions } from './simulator.js';
export type { SimCredential } from './caller-auth.js';
export type { RequestLog, RequestLogEntry, ProxyCallRecord } from './request-log.js';
export { registerKmsSimCommand } from './cli.js';
export { createXksTransport, type XksTarget, type XksTransport } from './xks-transport.js';
export { probeXksHealth, type XksHealthProbe } from './health-probe.js';
