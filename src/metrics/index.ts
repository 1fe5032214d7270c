export * from './metrics.js';
export * from './cluster.js';
export * from './listener.js';
export * from './node-gauges.js';
export * from './audit-disk.js';
