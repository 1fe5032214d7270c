import { z } from 'zod';
import { defineRoute, type AdminRoute } from '../route.js';
import { ERROR_RESPONSES, issuedPasswordView, roleSchema, toUserView, userView } from '../views.js';
import { gated, nameParam } from './common.js';
import type { RouteDeps } from './deps.js';
import type { AdminUser, IssuedPassword } from '../../domain/index.js';
import { pendingApprovalView } from '../views.js';

const usernameParams = z.object({ username: nameParam });
const issued = (r: IssuedPassword) => ({ user: toUserView(r.user), oneTimePassword: r.oneTimePassword });

/** Admin users: administrators manage them, auditors read them. */
export function userRoutes(deps: RouteDeps): AdminRoute[] {
  const { services } = deps;
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
      approval: 'user.create',
      tag: 'users',
      summary: 'Create an admin user with a one-time password (shown once)',
      description: 'Under a user.create rule the request waits for custodians, and the requester collects the one-time password once (POST /approvals/{id}/collect).',
      body: z.object({ username: nameParam, role: roleSchema }).strict(),
      responses: { 200: issuedPasswordView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        input.audit.target = input.body.username;
        return gated(deps, input, 'user.create', { username: input.body.username, role: input.body.role }, (r) => issued(r as IssuedPassword));
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
      approval: { rules: ['user.set-role', 'user.enable'], when: 'the role changes (user.set-role) or a disabled user is enabled (user.enable); disabling runs at once' },
      tag: 'users',
      summary: 'Change a user’s role or enable/disable it (ends its sessions and API keys)',
      description: 'The last enabled administrator can be neither disabled nor given another role.',
      params: usernameParams,
      body: z.object({ role: roleSchema.optional(), enabled: z.boolean().optional() }).strict(),
      responses: { 200: userView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        const { role, enabled } = input.body;
        const params = { username: input.params.username, ...(role !== undefined ? { role } : {}), ...(enabled !== undefined ? { enabled } : {}) };
        return gated(deps, input, 'user.update', params, (r) => toUserView(r as AdminUser));
      },
    }),
    defineRoute({
      id: 'users.reset-password',
      method: 'POST',
      url: '/users/:username/reset-password',
      access: ['administrator'],
      approval: 'user.reset-password',
      tag: 'users',
      summary: 'Issue a new one-time password; unlocks the user and ends its sessions and API keys',
      description: 'Under a user.reset-password rule the request waits for custodians and the requester collects the password once.',
      params: usernameParams,
      responses: { 200: issuedPasswordView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        return gated(deps, input, 'user.reset-password', { username: input.params.username }, (r) => issued(r as IssuedPassword));
      },
    }),
  ];
}
