export * from './aes-gcm.js';
export * from './gcm-aad.js';
export * from './cdiv.js';
export * from './ciphertext-metadata.js';
export * from './sealed-value.js';
export * from './credentials.js';
export * from './sigv4.js';
export * from './audit-chain.js';
