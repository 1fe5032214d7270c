import { z } from 'zod';
import { defineRoute, type AdminRoute } from '../route.js';
import { ERROR_RESPONSES, issuedPasswordView, roleSchema, toUserView, userView } from '../views.js';
import { nameParam } from './common.js';
import type { RouteDeps } from './deps.js';
import type { Role } from '../../domain/index.js';

const usernameParams = z.object({ username: nameParam });

/** Admin users: administrators manage them, auditors read them. */
export function userRoutes({ services }: RouteDeps): AdminRoute[] {
  const { identity } = services;
  return [
    defineRoute({
      id: 'users.list',
      method: 'GET',
      url: '/users',
      access: ['administrator', 'auditor'],
      tag: 'users',
      summary: 'List admin users',
      responses: { 200: z.array(userView), ...ERROR_RESPONSES },
      async handle() {
        return (await identity.listUsers()).map(toUserView);
      },
    }),
    defineRoute({
      id: 'users.create',
      method: 'POST',
      url: '/users',
      access: ['administrator'],
      tag: 'users',
      summary: 'Create an admin user with a one-time password (shown once)',
      body: z.object({ username: nameParam, role: roleSchema }).strict(),
      responses: { 200: issuedPasswordView, ...ERROR_RESPONSES },
      async handle({ body, audit }) {
        audit.target = body.username;
        const r = await identity.createUser({ username: body.username, role: body.role as Role });
        return { user: toUserView(r.user), oneTimePassword: r.oneTimePassword };
      },
    }),
    defineRoute({
      id: 'users.get',
      method: 'GET',
      url: '/users/:username',
      access: ['administrator', 'auditor'],
      tag: 'users',
      summary: 'Show an admin user',
      params: usernameParams,
      responses: { 200: userView, ...ERROR_RESPONSES },
      async handle({ params }) {
        return toUserView(await identity.getUser(params.username));
      },
    }),
    defineRoute({
      id: 'users.update',
      method: 'PATCH',
      url: '/users/:username',
      access: ['administrator'],
      tag: 'users',
      summary: 'Change a user’s role or enable/disable it (ends its sessions and API keys)',
      description: 'The last enabled administrator can be neither disabled nor given another role.',
      params: usernameParams,
      body: z.object({ role: roleSchema.optional(), enabled: z.boolean().optional() }).strict(),
      responses: { 200: userView, ...ERROR_RESPONSES },
      async handle({ params, body }) {
        let u = await identity.getUser(params.username);
        if (body.role !== undefined) u = await identity.setRole(params.username, body.role as Role);
        if (body.enabled !== undefined) u = await identity.setEnabled(params.username, body.enabled);
        return toUserView(u);
      },
    }),
    defineRoute({
      id: 'users.reset-password',
      method: 'POST',
      url: '/users/:username/reset-password',
      access: ['administrator'],
      tag: 'users',
      summary: 'Issue a new one-time password; unlocks the user and ends its sessions and API keys',
      params: usernameParams,
      responses: { 200: issuedPasswordView, ...ERROR_RESPONSES },
      async handle({ params }) {
        const r = await identity.resetPassword(params.username);
        return { user: toUserView(r.user), oneTimePassword: r.oneTimePassword };
      },
    }),
  ];
}
