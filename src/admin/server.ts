import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { fail, isoNow, KeyholdError, type Clock, type Logger } from '../base/index.js';
import { ROLES, type AdminActionRecord, type AdminAuditSink, type Principal } from '../domain/index.js';
import { recordedChange } from './audit.js';
import { toAdminError } from './errors.js';
import { coverageExtensions, CSRF_HEADER, routePath, rolesAllowed, SESSION_COOKIE, type AdminRoute, type AuditNotes } from './route.js';
import { buildRoutes, type AdminServices, type MetricsSource } from './routes/index.js';
import { CONSOLE_HEADERS, isConsolePath, loadConsoleAssets, type ConsoleAssets } from './console-static.js';


export interface AdminServerOptions {
  tls: { cert: string | Buffer; key: string | Buffer };
  services: AdminServices;
  audit: AdminAuditSink;
  clock: Clock;
  log: Logger;
  version: string;
  /** Prometheus text for GET /metrics (administrators and auditors). */
  metrics?: MetricsSource;
  /** Further routes (the audit log's), checked and documented like the built-in ones. */
  extraRoutes?: AdminRoute[];
  bodyLimit?: number;
  /** The web console served at / (default: the built one in dist/console; false: none). */
  console?: ConsoleAssets | false;
}

export interface AdminServer {
  app: FastifyInstance;
  routes: readonly AdminRoute[];
  listen(host: string, port: number): Promise<AddressInfo>;
  close(): Promise<void>;
}

interface RequestState {
  route: AdminRoute;
  principal: Principal | undefined;
  audit: AuditNotes;
  errorCode: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    keyhold: RequestState | null;
  }
  interface FastifyContextConfig {
    adminRoute?: AdminRoute;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

function isAudited(r: AdminRoute): boolean {
  return r.audited ?? r.method !== 'GET';
}

function defaultTarget(params: unknown): string | null {
  if (!params || typeof params !== 'object') return null;
  const p = params as Record<string, unknown>;
  const parts = ['name', 'keyId', 'username', 'action', 'id', 'accessKeyId', 'version'].filter((k) => p[k] !== undefined).map((k) => String(p[k]));
  return parts.length ? parts.join('/') : null;
}

/**
 * The admin listener: REST under /api/v1 over TLS, every route declared with the roles
 * that may call it (a route without a declaration refuses to register), zod schemas for
 * validation, serialisation and the OpenAPI document, and an audit record for every
 * action, written before the response is sent.
 */
export async function createAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const { services, clock, log } = opts;
  const routes = [...buildRoutes({ services, clock, metrics: opts.metrics, openapi: () => app.swagger() }), ...(opts.extraRoutes ?? [])];

  const app = Fastify({
    https: { cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' },
    logger: false,
    exposeHeadRoutes: false,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    trustProxy: false,
    return503OnClosing: true,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('keyhold', null);

  app.addHook('onRoute', (r) => {
    if (!r.config?.adminRoute) throw new KeyholdError('Internal', `admin route ${String(r.method)} ${r.url} has no access declaration`);
  });

  await app.register(fastifyCookie);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Keyhold admin API',
        version: opts.version,
        description:
          'Management plane of Keyhold. Authenticate with POST /api/v1/auth/login (session token, or an HttpOnly cookie with {"cookie": true}) or an API key, sent as "Authorization: Bearer <token>". ' +
          'Each operation lists the roles that may call it in x-keyhold-roles; operations that an approval rule can guard name it in x-keyhold-approval and answer 202 with the pending request.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'session token (khs_…) or API key (kha_…)' },
          cookie: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: `browser session; writes also need the ${CSRF_HEADER} header` },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  function deny(status: 401 | 403, message: string): never {
    fail(status === 401 ? 'AuthenticationFailed' : 'AccessDenied', message);
  }

  async function authenticate(req: FastifyRequest): Promise<{ principal: Principal; viaCookie: boolean } | undefined> {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer ([\x21-\x7e]{1,256})$/i.exec(header);
      if (!m) deny(401, 'send the token as "Authorization: Bearer <token>"');
      return { principal: await services.identity.authenticate(m[1]!), viaCookie: false };
    }
    const cookie = req.cookies?.[SESSION_COOKIE];
    if (cookie) return { principal: await services.identity.authenticate(cookie), viaCookie: true };
    return undefined;
  }

  app.addHook('onRequest', async (req) => {
    const route = req.routeOptions.config.adminRoute;
    if (!route) return;
    const state: RequestState = { route, principal: undefined, audit: {}, errorCode: null };
    req.keyhold = state;
    if (route.access === 'public') {
      // A public route still knows its caller when one is signed in (and ignores a bad token).
      state.principal = (await authenticate(req).catch(() => undefined))?.principal;
      return;
    }
    const auth = await authenticate(req);
    if (!auth) deny(401, 'sign in first: POST /api/v1/auth/login, then send "Authorization: Bearer <token>"');
    state.principal = auth.principal;
    const user = auth.principal.user;
    if (auth.viaCookie && !SAFE_METHODS.has(req.method)) {
      if (req.headers[CSRF_HEADER] === undefined) deny(403, `cookie-authenticated changes need the ${CSRF_HEADER} header`);
      // Browsers say where a request comes from; a cookie write from another origin is refused
      // even if a custom header somehow came along.
      const site = req.headers['sec-fetch-site'];
      if (site !== undefined && site !== 'same-origin') deny(403, 'cookie-authenticated changes must come from the console itself (Sec-Fetch-Site: same-origin)');
    }
    if (user.mustChangePassword && !route.duringPasswordChange) deny(403, 'replace your one-time password first: POST /api/v1/auth/password');
    if (route.access !== 'authenticated' && !route.access.includes(user.role)) {
      deny(403, `the ${user.role} role may not call ${route.method} ${routePath(route)} (allowed: ${route.access.join(', ')})`);
    }
  });

  app.addHook('onSend', async (req, reply: FastifyReply, payload) => {
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    const state = req.keyhold;
    if (!state || !isAudited(state.route)) return payload;
    const status = reply.statusCode;
    const p = state.principal;
    const record: AdminActionRecord = {
      at: isoNow(clock),
      actor: p
        ? { userId: p.user.id, username: p.user.username, role: p.user.role, via: p.via }
        : { userId: null, username: state.audit.actorUsername ?? null, role: null, via: 'anonymous' },
      sourceIp: req.ip ?? null,
      action: state.route.id,
      method: req.method,
      path: req.url.split('?')[0] ?? req.url,
      target: state.audit.target ?? defaultTarget(req.params),
      outcome: state.audit.outcome ?? (status < 400 ? 'ok' : status === 401 || status === 403 ? 'denied' : 'failed'),
      status,
      errorCode: state.errorCode,
      change: state.audit.change !== undefined ? state.audit.change : recordedChange(req.body),
      approvalId: state.audit.approvalId ?? null,
    };
    try {
      await opts.audit.recordAdminAction(record);
    } catch (e) {
      // Vault's rule: an action that cannot be recorded is not reported as done.
      log.error({ event: 'admin_audit_failed', action: record.action, err: e instanceof Error ? e.message : String(e) }, 'could not record an admin action');
      reply.code(500);
      reply.header('content-type', 'application/json; charset=utf-8');
      return JSON.stringify({ error: 'Internal', message: 'the action could not be recorded in the audit log; check its outcome before retrying' });
    }
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    const state = req.keyhold;
    log.info(
      {
        event: 'admin_http',
        method: req.method,
        route: state ? state.route.id : 'unrouted',
        status: reply.statusCode,
        user: state?.principal?.user.username,
        ip: req.ip,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'admin api call',
    );
  });

  app.setErrorHandler(async (err, req, reply) => {
    const x = toAdminError(err);
    if (x.status === 500) log.error({ event: 'admin_internal', route: req.keyhold?.route.id, err: err instanceof Error ? err.message : String(err) }, 'internal error in the admin API');
    if (req.keyhold) req.keyhold.errorCode = x.body.error;
    if (x.status === 401) reply.header('www-authenticate', 'Bearer realm="keyhold"');
    return reply.code(x.status).send(x.body);
  });

  const consoleAssets = opts.console === false ? undefined : (opts.console ?? loadConsoleAssets());
  app.setNotFoundHandler(async (req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    if (consoleAssets && (req.method === 'GET' || req.method === 'HEAD') && isConsolePath(path)) {
      const asset = consoleAssets.lookup(path === '/' ? '/index.html' : path);
      reply.headers(CONSOLE_HEADERS);
      if (asset) return reply.code(200).type(asset.contentType).send(asset.body);
      if (!consoleAssets.available) return reply.code(404).type('text/plain; charset=utf-8').send('The web console is not built: run `npm run build`.\n');
      return reply.code(404).type('text/plain; charset=utf-8').send('not found\n');
    }
    return reply.code(404).send({ error: 'NotFound', message: `no admin API at ${req.method} ${path.slice(0, 200)}` });
  });

  const securityAny: Record<string, string[]>[] = [{ bearer: [] }, { cookie: [] }];
  for (const r of routes) {
    const roles = rolesAllowed(r.access, ROLES);
    app.route({
      method: r.method,
      url: routePath(r),
      config: { adminRoute: r },
      schema: {
        operationId: r.id,
        summary: r.summary,
        ...(r.description ? { description: r.description } : {}),
        tags: [r.tag],
        ...(r.params ? { params: r.params } : {}),
        ...(r.query ? { querystring: r.query } : {}),
        ...(r.body ? { body: r.body } : {}),
        ...(r.raw ? {} : { response: r.responses }),
        security: r.access === 'public' ? [] : securityAny,
        'x-keyhold-roles': r.access === 'public' ? ['public'] : [...roles],
        ...coverageExtensions(r.approval),
      },
      handler: async (req, reply) => {
        const state = req.keyhold!;
        const result = await r.handle({
          params: req.params,
          query: req.query,
          body: req.body,
          get principal(): Principal {
            return state.principal ?? fail('Internal', `route ${r.id} read the caller but is public`);
          },
          req,
          reply,
          audit: state.audit,
        });
        return reply.send(result);
      },
    });
  }

  return {
    app,
    routes,
    async listen(host, port) {
      await app.listen({ host, port });
      const addr = app.server.address();
      if (!addr || typeof addr === 'string') throw new KeyholdError('Internal', 'the admin listener has no TCP address');
      return addr;
    },
    async close() {
      await app.close();
    },
  };
}
