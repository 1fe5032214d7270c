export * from './clients.js';
export * from './credentials.js';
export * from './errors.js';
export * from './gateway.js';
export * from './http.js';
export * from './byok-kms.js';
