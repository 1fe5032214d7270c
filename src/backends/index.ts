export * from './software-backend.js';
