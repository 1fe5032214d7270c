import { randomUUID } from 'node:crypto';
import { fail, isoNow, type Clock } from '../base/index.js';
import {
  DEFAULT_PASSWORD_HASH,
  generateOneTimePassword,
  generateToken,
  hashPassword,
  tokenDigest,
  verifyPassword,
  type PasswordHashParams,
} from '../crypto/index.js';
import { ROLES, type AdminSession, type AdminUser, type AdminUserRecord, type ApiKeyInfo, type Principal, type Role } from './admin-model.js';
import type { AdminSessionRepo, AdminUserRepo, ApiKeyRepo } from './admin-ports.js';
import { truncate, validateName } from './validation.js';

export const SESSION_TOKEN_PREFIX = 'khs_';
export const API_KEY_PREFIX = 'kha_';
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 256;
const MAX_TOKEN_LENGTH = 128;
/** Sessions are not written on every request: last-seen moves at most this often. */
const TOUCH_EVERY_MS = 60_000;

export interface IdentitySettings {
  /** Absolute lifetime of a session. */
  sessionTtlMs: number;
  /** A session unused for this long ends. */
  sessionIdleMs: number;
  /** Failed logins allowed before backoff starts. */
  lockoutThreshold: number;
  /** First lockout; doubles with every further failure, up to lockoutMaxMs. */
  lockoutBaseMs: number;
  lockoutMaxMs: number;
  passwordHash: PasswordHashParams;
  /** scrypt runs use 128 MiB each at the default cost: bound how many run at once. */
  maxConcurrentHashes: number;
  /** Password checks waiting for a slot; beyond this a login is answered 429 at once. */
  maxQueuedHashes: number;
  /** Password checks one client address may have running or waiting; beyond it, 429 at once. */
  maxHashesPerAddress: number;
}

export const DEFAULT_IDENTITY_SETTINGS: IdentitySettings = {
  sessionTtlMs: 8 * 3600_000,
  sessionIdleMs: 30 * 60_000,
  lockoutThreshold: 5,
  lockoutBaseMs: 60_000,
  lockoutMaxMs: 15 * 60_000,
  passwordHash: DEFAULT_PASSWORD_HASH,
  maxConcurrentHashes: 2,
  maxQueuedHashes: 16,
  maxHashesPerAddress: 4,
};

export interface IssuedPassword {
  user: AdminUser;
  /** Shown once; the user must replace it at first login. */
  oneTimePassword: string;
}

export interface LoginResult {
  token: string;
  session: Omit<AdminSession, 'tokenDigest'>;
  user: AdminUser;
}

export type AdminIdentityService = ReturnType<typeof createAdminIdentityService>;

function publicUser(u: AdminUserRecord): AdminUser {
  const { passwordHash: _hash, ...rest } = u;
  return rest;
}

export function validateRole(role: string): Role {
  if (!ROLES.includes(role as Role)) fail('ValidationFailed', `role '${truncate(role)}' must be one of ${ROLES.join(', ')}`);
  return role as Role;
}

function validatePassword(password: string): string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    fail('ValidationFailed', `a password has ${MIN_PASSWORD_LENGTH}-${MAX_PASSWORD_LENGTH} characters`);
  }
  return password;
}

/**
 * A bounded counting semaphore for password hashing, which is memory-hard and slow on
 * purpose: at most `max` run at once, at most `maxQueued` wait, and one client address may
 * hold at most `perAddress` of those places. A call that finds no place is refused at once
 * (Throttled), before any work, so a flood of logins costs the server almost nothing and
 * cannot build an unbounded queue in front of legitimate sign-ins.
 */
export function hashLimiter(o: { max: number; maxQueued: number; perAddress: number }) {
  let active = 0;
  const waiting: (() => void)[] = [];
  const byAddress = new Map<string, number>();
  return async function run<T>(address: string | null, fn: () => Promise<T>): Promise<T> {
    if (active >= o.max && waiting.length >= o.maxQueued) fail('Throttled', 'too many password checks are in progress; try again in a few seconds');
    const held = address === null ? 0 : (byAddress.get(address) ?? 0);
    if (address !== null && held >= o.perAddress) fail('Throttled', 'too many password checks from your address are in progress; wait for them to finish');
    if (address !== null) byAddress.set(address, held + 1);
    try {
      if (active >= o.max) await new Promise<void>((r) => waiting.push(r));
      active++;
      try {
        return await fn();
      } finally {
        active--;
        waiting.shift()?.();
      }
    } finally {
      if (address !== null) {
        const n = (byAddress.get(address) ?? 1) - 1;
        if (n <= 0) byAddress.delete(address);
        else byAddress.set(address, n);
      }
    }
  };
}

/**
 * Local admin users, password login with lockout, sessions and API keys.
 * Storage sees scrypt hashes of passwords and SHA-256 digests of tokens, never the secrets.
 */
export function createAdminIdentityService(deps: { repo: AdminUserRepo & AdminSessionRepo & ApiKeyRepo; clock: Clock; settings?: Partial<IdentitySettings> }) {
  const { repo, clock } = deps;
  const settings: IdentitySettings = { ...DEFAULT_IDENTITY_SETTINGS, ...deps.settings };
  const hashing = hashLimiter({ max: settings.maxConcurrentHashes, maxQueued: settings.maxQueuedHashes, perAddress: settings.maxHashesPerAddress });
  /** Failures for names that do not exist, so lockout does not reveal which names do. */
  const unknownFailures = new Map<string, { count: number; lockedUntil: number }>();
  let dummyHash: Promise<string> | undefined;

  const hash = (pw: string) => hashing(null, () => hashPassword(pw, settings.passwordHash));
  const verify = (pw: string, stored: string, address: string | null) => hashing(address, () => verifyPassword(pw, stored));

  async function mustGetUser(username: string): Promise<AdminUserRecord> {
    return (await repo.getAdminUser(username)) ?? fail('NotFound', `admin user '${truncate(username)}' does not exist`);
  }

  function lockDuration(failures: number): number {
    const over = failures - settings.lockoutThreshold;
    if (over < 0) return 0;
    return Math.min(settings.lockoutBaseMs * 2 ** Math.min(over, 30), settings.lockoutMaxMs);
  }

  function lockedMessage(untilMs: number): never {
    const seconds = Math.max(1, Math.ceil((untilMs - clock.now()) / 1000));
    fail('Throttled', `too many failed logins; try again in ${seconds} s`);
  }

  async function enabledAdministrators(except?: string): Promise<number> {
    return (await repo.listAdminUsers()).filter((u) => u.enabled && u.role === 'administrator' && u.id !== except).length;
  }

  async function endAllAccess(userId: string): Promise<void> {
    await repo.deleteSessionsOfUser(userId);
    await repo.revokeApiKeysOfUser(userId, isoNow(clock));
  }

  async function newUser(username: string, role: Role): Promise<IssuedPassword> {
    const name = validateName(username, 'username');
    const r = validateRole(role);
    if (await repo.getAdminUser(name)) fail('Conflict', `admin user '${name}' already exists`);
    const oneTimePassword = generateOneTimePassword();
    const now = isoNow(clock);
    const rec: AdminUserRecord = {
      id: randomUUID(),
      username: name,
      role: r,
      enabled: true,
      mustChangePassword: true,
      failedLogins: 0,
      lockedUntil: null,
      passwordChangedAt: now,
      lastLoginAt: null,
      createdAt: now,
      updatedAt: now,
      trustedSince: now,
      passwordHash: await hash(oneTimePassword),
    };
    await repo.insertAdminUser(rec);
    return { user: publicUser(rec), oneTimePassword };
  }

  async function startSession(user: AdminUserRecord, sourceIp: string | null): Promise<LoginResult> {
    const token = generateToken(SESSION_TOKEN_PREFIX);
    const nowMs = clock.now();
    const session: AdminSession = {
      id: randomUUID(),
      userId: user.id,
      tokenDigest: tokenDigest(token),
      createdAt: new Date(nowMs).toISOString(),
      expiresAt: new Date(nowMs + settings.sessionTtlMs).toISOString(),
      lastSeenAt: new Date(nowMs).toISOString(),
      sourceIp,
    };
    await repo.insertSession(session);
    const { tokenDigest: _d, ...shown } = session;
    return { token, session: shown, user: publicUser(user) };
  }

  return {
    settings,

    /** The first administrator, made by `keyhold init`; refused once any user exists. */
    async bootstrap(username = 'admin'): Promise<IssuedPassword> {
      if ((await repo.listAdminUsers()).length > 0) fail('Conflict', 'admin users already exist; use keyhold admin reset-password to regain access');
      return newUser(username, 'administrator');
    },

    createUser: (input: { username: string; role: Role }) => newUser(input.username, input.role),

    async listUsers(): Promise<AdminUser[]> {
      return repo.listAdminUsers();
    },

    async getUser(username: string): Promise<AdminUser> {
      return publicUser(await mustGetUser(username));
    },

    /** Changes a user's role. The last enabled administrator keeps theirs, so nobody is locked out. */
    async setRole(username: string, role: Role): Promise<AdminUser> {
      const u = await mustGetUser(username);
      const r = validateRole(role);
      if (u.role === r) return publicUser(u);
      if (u.role === 'administrator' && u.enabled && (await enabledAdministrators(u.id)) === 0) fail('Conflict', `'${u.username}' is the last enabled administrator`);
      const updatedAt = isoNow(clock);
      await repo.updateAdminUser(u.id, { role: r, updatedAt, trustedSince: updatedAt });
      // A new role means new rights: sessions and API keys made under the old role end.
      await endAllAccess(u.id);
      return { ...publicUser(u), role: r, updatedAt, trustedSince: updatedAt };
    },

    async setEnabled(username: string, enabled: boolean): Promise<AdminUser> {
      const u = await mustGetUser(username);
      if (!enabled && u.role === 'administrator' && u.enabled && (await enabledAdministrators(u.id)) === 0) fail('Conflict', `'${u.username}' is the last enabled administrator`);
      const updatedAt = isoNow(clock);
      // Re-enabling gives the account its vote back only for requests filed from now on.
      const trust = enabled && !u.enabled ? { trustedSince: updatedAt } : {};
      await repo.updateAdminUser(u.id, { enabled, updatedAt, ...trust });
      if (!enabled) await endAllAccess(u.id);
      return { ...publicUser(u), enabled, updatedAt, ...trust };
    },

    /**
     * A new one-time password: unlocks the account, ends its sessions and API keys. Also the
     * break-glass path (`keyhold admin reset-password` on the local database).
     */
    async resetPassword(username: string, opts: { enable?: boolean } = {}): Promise<IssuedPassword> {
      const u = await mustGetUser(username);
      const oneTimePassword = generateOneTimePassword();
      const now = isoNow(clock);
      const patch = {
        passwordHash: await hash(oneTimePassword),
        mustChangePassword: true,
        failedLogins: 0,
        lockedUntil: null,
        passwordChangedAt: now,
        updatedAt: now,
        // Whoever reset the password knows it: the account's votes count again only for requests filed later.
        trustedSince: now,
        ...(opts.enable ? { enabled: true } : {}),
      };
      await repo.updateAdminUser(u.id, patch);
      await endAllAccess(u.id);
      return { user: publicUser({ ...u, ...patch }), oneTimePassword };
    },

    /**
     * Password login. Every answer for a wrong name or password is the same; after
     * `lockoutThreshold` failures each further failure locks the name for a doubling time.
     */
    async login(username: string, password: string, sourceIp: string | null): Promise<LoginResult> {
      if (typeof username !== 'string' || typeof password !== 'string' || username.length > 64 || password.length > MAX_PASSWORD_LENGTH) {
        fail('AuthenticationFailed', 'wrong username or password');
      }
      const found = await repo.getAdminUser(username);
      const user = found && found.username === username ? found : undefined;
      // A locked name is refused before it takes a place in the hashing queue.
      if (user?.lockedUntil && Date.parse(user.lockedUntil) > clock.now()) lockedMessage(Date.parse(user.lockedUntil));
      return hashing(sourceIp, async () => {
        const nowMs = clock.now();
        if (!user) {
          const key = username.toLowerCase();
          const f = unknownFailures.get(key);
          if (f && f.lockedUntil > nowMs) lockedMessage(f.lockedUntil);
          // The failure is counted before the check, in the same turn as the lock test, so
          // concurrent guesses cannot all pass that test.
          const count = (f?.count ?? 0) + 1;
          if (!f && unknownFailures.size >= 10_000) unknownFailures.delete(unknownFailures.keys().next().value as string);
          unknownFailures.set(key, { count, lockedUntil: nowMs + lockDuration(count) });
          // Spend the same work as a real check, so timing does not tell names apart.
          dummyHash ??= hashPassword(generateOneTimePassword(), settings.passwordHash);
          await verifyPassword(password, await dummyHash);
          fail('AuthenticationFailed', 'wrong username or password');
        }
        // The attempt is claimed (counted as a failure) before the password is checked, in one
        // atomic statement: N parallel guesses get N distinct counts, and the one reaching the
        // threshold locks the name for the rest before any of them is checked.
        const attempt = await repo.claimLoginAttempt(user.id, new Date(nowMs).toISOString(), settings.lockoutThreshold, new Date(nowMs + settings.lockoutMaxMs).toISOString());
        if (attempt === undefined) {
          const cur = await repo.getAdminUser(user.id);
          lockedMessage(cur?.lockedUntil ? Date.parse(cur.lockedUntil) : nowMs + settings.lockoutBaseMs);
        }
        // Read again inside the slot: the password may have changed while this attempt waited.
        const current = (await repo.getAdminUser(user.id)) ?? user;
        const ok = await verifyPassword(password, current.passwordHash);
        if (!ok) {
          // Replace the provisional lock with the backoff this failure earns.
          if (attempt >= settings.lockoutThreshold) await repo.updateAdminUser(user.id, { lockedUntil: new Date(nowMs + lockDuration(attempt)).toISOString() });
          fail('AuthenticationFailed', 'wrong username or password');
        }
        if (!current.enabled) {
          // The right password of a disabled account is not a guess: undo the claim, refuse the same way.
          await repo.updateAdminUser(user.id, { failedLogins: 0, lockedUntil: null });
          fail('AuthenticationFailed', 'wrong username or password');
        }
        const now = new Date(nowMs).toISOString();
        await repo.updateAdminUser(user.id, { failedLogins: 0, lockedUntil: null, lastLoginAt: now });
        return startSession({ ...current, failedLogins: 0, lockedUntil: null, lastLoginAt: now }, sourceIp);
      });
    },

    /** Ends the session the token belongs to (API keys are revoked, not logged out). */
    async logout(principal: Principal): Promise<void> {
      if (principal.via === 'session') await repo.deleteSession(principal.credentialId);
    },

    /** Who holds this bearer token (session token or API key); AuthenticationFailed otherwise. */
    async authenticate(token: string): Promise<Principal> {
      if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) fail('AuthenticationFailed', 'the token is not valid');
      const nowMs = clock.now();
      const digest = tokenDigest(token);
      let userId: string;
      let via: Principal['via'];
      let credentialId: string;
      let createdAt: string;
      if (token.startsWith(SESSION_TOKEN_PREFIX)) {
        const s = await repo.getSessionByDigest(digest);
        if (!s) fail('AuthenticationFailed', 'the session is not valid; log in again');
        if (Date.parse(s.expiresAt) <= nowMs || Date.parse(s.lastSeenAt) + settings.sessionIdleMs <= nowMs) {
          await repo.deleteSession(s.id);
          fail('AuthenticationFailed', 'the session has expired; log in again');
        }
        if (Date.parse(s.lastSeenAt) + TOUCH_EVERY_MS <= nowMs) await repo.touchSession(s.id, new Date(nowMs).toISOString());
        ({ userId, id: credentialId, createdAt } = s);
        via = 'session';
      } else if (token.startsWith(API_KEY_PREFIX)) {
        const k = await repo.getApiKeyByDigest(digest);
        if (!k || k.revokedAt !== null || (k.expiresAt !== null && Date.parse(k.expiresAt) <= nowMs)) fail('AuthenticationFailed', 'the API key is not valid');
        if (k.lastUsedAt === null || Date.parse(k.lastUsedAt) + TOUCH_EVERY_MS <= nowMs) await repo.touchApiKey(k.id, new Date(nowMs).toISOString());
        ({ userId, id: credentialId, createdAt } = k);
        via = 'api-key';
      } else {
        fail('AuthenticationFailed', 'the token is not valid');
      }
      const user = await repo.getAdminUser(userId);
      if (!user || !user.enabled) fail('AuthenticationFailed', 'the account is disabled');
      // Re-checked on every call, not only revoked when it happens: a session or API key made
      // before the account was re-enabled, re-roled or had its password reset is dead, even
      // if revoking it was missed (a crash between the two writes, an older release).
      if (Date.parse(createdAt) < Date.parse(user.trustedSince)) fail('AuthenticationFailed', via === 'session' ? 'the session predates a change to the account; log in again' : 'the API key predates a change to its owner account; create a new one');
      return { user: publicUser(user), via, credentialId };
    },

    /** Replaces the caller's password; other sessions of the user end, this one stays. */
    async changePassword(principal: Principal, currentPassword: string, newPassword: string): Promise<AdminUser> {
      const user = await mustGetUser(principal.user.id);
      if (typeof currentPassword !== 'string' || currentPassword.length > MAX_PASSWORD_LENGTH || !(await verify(currentPassword, user.passwordHash, `user:${user.id}`))) {
        fail('AuthenticationFailed', 'the current password is wrong');
      }
      validatePassword(newPassword);
      if (newPassword === currentPassword) fail('ValidationFailed', 'the new password must differ from the current one');
      if (newPassword.toLowerCase().includes(user.username.toLowerCase())) fail('ValidationFailed', 'the password must not contain the username');
      const now = isoNow(clock);
      const patch = { passwordHash: await hash(newPassword), mustChangePassword: false, passwordChangedAt: now, updatedAt: now };
      await repo.updateAdminUser(user.id, patch);
      await repo.deleteSessionsOfUser(user.id, principal.via === 'session' ? principal.credentialId : undefined);
      return publicUser({ ...user, ...patch });
    },

    async createApiKey(principal: Principal, input: { name: string; expiresInDays?: number | undefined }): Promise<{ apiKey: string; info: ApiKeyInfo }> {
      const name = validateName(input.name, 'API key name');
      if (input.expiresInDays !== undefined && (!Number.isInteger(input.expiresInDays) || input.expiresInDays < 1 || input.expiresInDays > 3650)) {
        fail('ValidationFailed', 'an API key expires after 1-3650 days');
      }
      const apiKey = generateToken(API_KEY_PREFIX);
      const nowMs = clock.now();
      const info: ApiKeyInfo = {
        id: randomUUID(),
        userId: principal.user.id,
        name,
        hint: apiKey.slice(0, API_KEY_PREFIX.length + 4),
        createdAt: new Date(nowMs).toISOString(),
        expiresAt: input.expiresInDays === undefined ? null : new Date(nowMs + input.expiresInDays * 86_400_000).toISOString(),
        lastUsedAt: null,
        revokedAt: null,
      };
      await repo.insertApiKey({ ...info, tokenDigest: tokenDigest(apiKey) });
      return { apiKey, info };
    },

    listApiKeys: (principal: Principal) => repo.listApiKeys(principal.user.id),

    async revokeApiKey(principal: Principal, id: string): Promise<ApiKeyInfo> {
      const k = (await repo.listApiKeys(principal.user.id)).find((x) => x.id === id && x.revokedAt === null);
      if (!k) fail('NotFound', `you have no live API key with id ${truncate(id)}`);
      const revokedAt = isoNow(clock);
      await repo.revokeApiKey(k.id, revokedAt);
      return { ...k, revokedAt };
    },

    /** Housekeeping for the scheduler. */
    purgeExpiredSessions: () => repo.deleteExpiredSessions(isoNow(clock)),
  };
}
