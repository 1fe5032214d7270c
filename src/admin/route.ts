import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ApprovalAction, Principal, Role } from '../domain/index.js';

/**
 * Who may call a route:
 * - 'public': anyone (login, the OpenAPI document);
 * - 'authenticated': any signed-in admin (their own session, password and API keys);
 * - a list of roles.
 */
export type Access = 'public' | 'authenticated' | readonly Role[];

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What a handler may tell the audit record beyond what the request shows. */
export interface AuditNotes {
  target?: string | null;
  approvalId?: string | null;
  outcome?: 'ok' | 'pending-approval';
  /** Overrides the recorded change (e.g. the parameters of an approved action). */
  change?: unknown;
  /** For login: who tried, when no principal exists yet. */
  actorUsername?: string;
}

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** The caller; routes with access 'public' must not read it. */
  principal: Principal;
  req: FastifyRequest;
  reply: FastifyReply;
  audit: AuditNotes;
}

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  /** Stable name: the OpenAPI operationId and the audit record's action. */
  id: string;
  method: HttpMethod;
  /** Under /api/v1 unless it starts with '!' (then the path is absolute, e.g. '!/metrics'). */
  url: string;
  access: Access;
  summary: string;
  description?: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  responses: Record<number, z.ZodType>;
  /**
   * How approval rules cover this route. Every route that changes something (every method
   * but GET) declares it, and test/admin-approval-coverage.test.ts checks each one from the
   * OpenAPI document, so a new route cannot slip past the rules unnoticed:
   * - an action: the change always falls under that rule (x-keyhold-approval);
   * - `{ rules, when }`: it falls under these rules when the change has the effect `when`
   *   describes, e.g. usage narrowed (x-keyhold-approval plus x-keyhold-approval-when);
   * - `{ exempt }`: no rule applies, and why: it only adds or restores service, acts on the
   *   caller's own credentials, or is the approval mechanism (x-keyhold-approval-exempt).
   */
  approval?: ApprovalCoverage;
  /** Callable while the user still has to replace a one-time password. */
  duringPasswordChange?: boolean;
  /** Recorded as an admin action (default: every method but GET). */
  audited?: boolean;
  /** Replies with something other than JSON (metrics); no response schema is applied. */
  raw?: boolean;
  handle(input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>): Promise<unknown>;
}

export type ApprovalCoverage = ApprovalAction | { rules: readonly [ApprovalAction, ...ApprovalAction[]]; when: string } | { exempt: string };

/** The rules that may guard a route (empty for an exempt or undeclared route). */
export function coverageRules(c: ApprovalCoverage | undefined): readonly ApprovalAction[] {
  if (c === undefined) return [];
  if (typeof c === 'string') return [c];
  return 'rules' in c ? c.rules : [];
}

/** The OpenAPI extensions that document a route's approval coverage. */
export function coverageExtensions(c: ApprovalCoverage | undefined): Record<string, unknown> {
  if (c === undefined) return {};
  if (typeof c === 'string') return { 'x-keyhold-approval': c };
  if ('exempt' in c) return { 'x-keyhold-approval-exempt': c.exempt };
  return { 'x-keyhold-approval': c.rules.length === 1 ? c.rules[0] : [...c.rules], 'x-keyhold-approval-when': c.when };
}

export type AdminRoute = RouteSpec<z.ZodType, z.ZodType, z.ZodType>;

export function defineRoute<P extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined, B extends z.ZodType = z.ZodUndefined>(spec: RouteSpec<P, Q, B>): AdminRoute {
  return spec as unknown as AdminRoute;
}

export const API_PREFIX = '/api/v1';
export const SESSION_COOKIE = 'keyhold_session';
/** Cookie-authenticated writes must carry this header (a CSRF guard: browsers only add it from our own pages). */
export const CSRF_HEADER = 'x-keyhold-request';

/** The full Fastify path of a route. */
export function routePath(r: Pick<AdminRoute, 'url'>): string {
  return r.url.startsWith('!') ? r.url.slice(1) : API_PREFIX + r.url;
}

export function rolesAllowed(access: Access, all: readonly Role[]): readonly Role[] {
  return access === 'public' || access === 'authenticated' ? all : access;
}
