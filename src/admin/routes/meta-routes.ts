import { z } from 'zod';
import { defineRoute, type AdminRoute } from '../route.js';
import { ERROR_RESPONSES } from '../views.js';
import type { RouteDeps } from './deps.js';

/** The OpenAPI document, and Prometheus metrics when a metrics source is wired. */
export function metaRoutes({ openapi, metrics }: RouteDeps): AdminRoute[] {
  const routes: AdminRoute[] = [
    defineRoute({
      id: 'meta.openapi',
      method: 'GET',
      url: '/openapi.json',
      access: 'public',
      tag: 'meta',
      summary: 'This API as an OpenAPI 3 document',
      raw: true,
      responses: { 200: z.looseObject({}) },
      async handle({ reply }) {
        reply.type('application/json; charset=utf-8');
        return JSON.stringify(openapi());
      },
    }),
  ];
  if (metrics) {
    routes.push(
      defineRoute({
        id: 'meta.metrics',
        method: 'GET',
        url: '!/metrics',
        // Operational data without secrets, but not for everyone who can reach the port:
        // scrape with an administrator's or auditor's API key as a bearer token.
        access: ['administrator', 'auditor'],
        tag: 'meta',
        summary: 'Prometheus metrics (text exposition format)',
        raw: true,
        responses: { 200: z.string(), ...ERROR_RESPONSES },
        async handle({ reply }) {
          reply.type('text/plain; version=0.0.4; charset=utf-8');
          return metrics.render();
        },
      }),
    );
  }
  return routes;
}
