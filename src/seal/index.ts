export * from './software-seal.js';
