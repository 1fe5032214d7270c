export * from './server.js';
export * from './errors.js';
export * from './router.js';
export * from './wire.js';
export * from './tls.js';
export * from './overload.js';
export * from './connections.js';
