import { z } from 'zod';
import { fail } from '../../base/index.js';
import { defineRoute, SESSION_COOKIE, type AdminRoute } from '../route.js';
import { apiKeyView, ERROR_RESPONSES, toApiKeyView, toUserView, userView } from '../views.js';
import { EXEMPT, okView } from './common.js';
import type { RouteDeps } from './deps.js';

const loginBody = z
  .object({
    username: z.string().min(1).max(64),
    password: z.string().min(1).max(256),
    cookie: z.boolean().optional().describe('true: set an HttpOnly, Secure, SameSite=Strict cookie and leave the token out of the body'),
  })
  .strict();

const loginView = z
  .object({
    token: z.string().optional().describe('bearer token (absent when a cookie was asked for)'),
    expiresAt: z.string(),
    user: userView,
  })
  .meta({ id: 'Login' });

export function authRoutes({ services, clock }: RouteDeps): AdminRoute[] {
  const { identity } = services;
  return [
    defineRoute({
      id: 'auth.login',
      method: 'POST',
      url: '/auth/login',
      access: 'public',
      approval: EXEMPT.self,
      tag: 'auth',
      summary: 'Log in with username and password',
      description: 'After repeated failures the username is locked for a doubling time (429). A user with a one-time password may only change it.',
      body: loginBody,
      audited: true,
      responses: { 200: loginView, ...ERROR_RESPONSES },
      async handle({ body, req, reply, audit }) {
        audit.actorUsername = body.username;
        audit.target = body.username;
        const r = await identity.login(body.username, body.password, req.ip ?? null);
        if (req.keyhold) req.keyhold.principal = { user: r.user, via: 'session', credentialId: r.session.id };
        if (body.cookie) {
          reply.setCookie(SESSION_COOKIE, r.token, {
            httpOnly: true,
            secure: true,
            sameSite: 'strict',
            path: '/',
            maxAge: Math.floor((Date.parse(r.session.expiresAt) - clock.now()) / 1000),
          });
          return { expiresAt: r.session.expiresAt, user: toUserView(r.user) };
        }
        return { token: r.token, expiresAt: r.session.expiresAt, user: toUserView(r.user) };
      },
    }),
    defineRoute({
      id: 'auth.logout',
      method: 'POST',
      url: '/auth/logout',
      access: 'authenticated',
      approval: EXEMPT.self,
      duringPasswordChange: true,
      tag: 'auth',
      summary: 'End the current session',
      responses: { 200: okView, ...ERROR_RESPONSES },
      async handle({ principal, reply }) {
        await identity.logout(principal);
        reply.clearCookie(SESSION_COOKIE, { path: '/' });
        return { ok: true as const };
      },
    }),
    defineRoute({
      id: 'auth.whoami',
      method: 'GET',
      url: '/auth/whoami',
      access: 'authenticated',
      duringPasswordChange: true,
      tag: 'auth',
      summary: 'The signed-in user and how they authenticated',
      responses: { 200: z.object({ user: userView, via: z.enum(['session', 'api-key']) }), ...ERROR_RESPONSES },
      async handle({ principal }) {
        return { user: toUserView(principal.user), via: principal.via };
      },
    }),
    defineRoute({
      id: 'auth.change-password',
      method: 'POST',
      url: '/auth/password',
      access: 'authenticated',
      duringPasswordChange: true,
      approval: EXEMPT.self,
      tag: 'auth',
      summary: "Replace the caller's password (ends their other sessions)",
      body: z.object({ currentPassword: z.string().min(1).max(256), newPassword: z.string().min(1).max(256) }).strict(),
      responses: { 200: z.object({ user: userView }), ...ERROR_RESPONSES },
      async handle({ principal, body }) {
        if (principal.via !== 'session') fail('AccessDenied', 'change passwords with a session, not an API key');
        return { user: toUserView(await identity.changePassword(principal, body.currentPassword, body.newPassword)) };
      },
    }),
    defineRoute({
      id: 'auth.api-keys.list',
      method: 'GET',
      url: '/auth/api-keys',
      access: 'authenticated',
      tag: 'auth',
      summary: "The caller's API keys (never the keys themselves)",
      responses: { 200: z.array(apiKeyView), ...ERROR_RESPONSES },
      async handle({ principal }) {
        return (await identity.listApiKeys(principal)).map(toApiKeyView);
      },
    }),
    defineRoute({
      id: 'auth.api-keys.create',
      method: 'POST',
      url: '/auth/api-keys',
      access: 'authenticated',
      approval: EXEMPT.self,
      tag: 'auth',
      summary: 'Create an API key for automation; it acts with the caller’s role and is shown once',
      body: z.object({ name: z.string().min(1).max(64), expiresInDays: z.number().int().min(1).max(3650).optional() }).strict(),
      responses: { 200: z.object({ apiKey: z.string().describe('shown once'), info: apiKeyView }).meta({ id: 'IssuedApiKey' }), ...ERROR_RESPONSES },
      async handle({ principal, body, audit }) {
        // An API key cannot mint further keys: a leaked key should not be able to entrench itself.
        if (principal.via !== 'session') fail('AccessDenied', 'create API keys from a signed-in session, not with an API key');
        const r = await identity.createApiKey(principal, body);
        audit.target = r.info.id;
        return { apiKey: r.apiKey, info: toApiKeyView(r.info) };
      },
    }),
    defineRoute({
      id: 'auth.api-keys.revoke',
      method: 'DELETE',
      url: '/auth/api-keys/:id',
      access: 'authenticated',
      approval: EXEMPT.self,
      tag: 'auth',
      summary: 'Revoke one of the caller’s API keys',
      params: z.object({ id: z.string().min(1).max(64) }),
      responses: { 200: apiKeyView, ...ERROR_RESPONSES },
      async handle({ principal, params }) {
        return toApiKeyView(await identity.revokeApiKey(principal, params.id));
      },
    }),
  ];
}
