/**
 * PKCS#11: the session pool, token keys, capability profiles, the sealed PIN and the sample-proxy
 * import. The HSM key backend (src/backends/) and the HSM seal (src/seal/) build on the pool.
 */
export * from './capability-profile.js';
export * from './ckr.js';
export * from './error-classifier.js';
export * from './session-pool.js';
export * from './token-keys.js';
export type { KeyAttributes, TokenInfo } from './pkcs11-protocol.js';
export * from './sample-proxy-config.js';
export * from './sample-proxy-import.js';
export * from './pin-store.js';
export type { Dispatch } from './pkcs11-lane.js';
