/** The seal port's implementations: key file and passphrase (software), HSM; and opening the configured one. */
export * from './software-seal.js';
export * from './hsm-seal.js';
export * from './open-seal.js';
