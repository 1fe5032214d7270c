export * from './errors.js';
export * from './bytes.js';
export * from './clock.js';
export * from './logger.js';
export * from './per-turn.js';
