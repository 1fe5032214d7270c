export * from './server.js';
export * from './route.js';
export * from './errors.js';
export * from './audit.js';
export { buildRoutes, type AdminServices, type MetricsSource } from './routes/index.js';
export { auditRoutes } from './routes/audit-routes.js';
export { statusRoutes } from './routes/status-routes.js';
export * from './console-static.js';
