/** PKCS#11 adapter: session pool, HSM key backend, HSM seal, capability profiles, sample-proxy import. */
export * from './capability-profile.js';
export * from './ckr.js';
export * from './error-classifier.js';
export * from './session-pool.js';
export * from './token-keys.js';
export * from './hsm-key-backend.js';
export * from './hsm-seal.js';
export type { KeyAttributes, TokenInfo } from './pkcs11-protocol.js';
export * from './sample-proxy-config.js';
export type { Dispatch } from './pkcs11-lane.js';
