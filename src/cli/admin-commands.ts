import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ROLES, type AdminUser, type ApiKeyInfo, type Role } from '../domain/index.js';
import type { CliHost } from './host.js';
import { fields, printer, table } from './output.js';
import { readSecret } from './prompt.js';
import { globalsOf, UsageError } from './shared.js';

function userRow(u: AdminUser) {
  return { username: u.username, role: u.role, enabled: u.enabled, mustChangePassword: u.mustChangePassword, lockedUntil: u.lockedUntil, lastLoginAt: u.lastLoginAt, createdAt: u.createdAt };
}

function apiKeyRow(k: ApiKeyInfo) {
  return { id: k.id, name: k.name, hint: k.hint, createdAt: k.createdAt, expiresAt: k.expiresAt, lastUsedAt: k.lastUsedAt, revokedAt: k.revokedAt };
}

function role(r: string): Role {
  if (!ROLES.includes(r as Role)) throw new UsageError(`role '${r}' must be one of ${ROLES.join(', ')}`);
  return r as Role;
}

/** login, logout, whoami, password, and `admin user|api-key|reset-password`. */
export function registerAdminCommands(program: Command, host: CliHost): void {
  program
    .command('login')
    .description('log in to --server; prints the session token, or saves it to --token-file')
    .requiredOption('--username <name>', 'admin username')
    .option('--password-file <file>', 'read the password from this file (default: prompt, or stdin)')
    .action(async (opts: { username: string; passwordFile?: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      if (!g.server) throw new UsageError('login needs --server (or KEYHOLD_SERVER)');
      const password = await readSecret('password', opts.passwordFile);
      const r = await host.login(g, { username: opts.username, password });
      if (g.tokenFile && r.token) {
        writeFileSync(g.tokenFile, r.token + '\n', { mode: 0o600 });
        printer(!!g.json).result({ user: userRow(r.user), expiresAt: r.expiresAt, tokenFile: g.tokenFile }, () =>
          [`Logged in as ${r.user.username} (${r.user.role}) until ${r.expiresAt}; token saved to ${g.tokenFile}.`, ...(r.user.mustChangePassword ? ['Replace your one-time password now: keyhold password'] : [])].join('\n'),
        );
      } else {
        printer(!!g.json).result({ user: userRow(r.user), expiresAt: r.expiresAt, token: r.token }, () =>
          [
            `Logged in as ${r.user.username} (${r.user.role}) until ${r.expiresAt}.`,
            `export KEYHOLD_TOKEN=${r.token}`,
            ...(r.user.mustChangePassword ? ['Replace your one-time password now: keyhold password'] : []),
          ].join('\n'),
        );
      }
    });

  program
    .command('logout')
    .description('end the session of the token in use (--server)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      await host.withServices(g, (s) => s.session.logout());
      printer(!!g.json).result({ loggedOut: true }, () => 'Logged out.');
    });

  program
    .command('whoami')
    .description('the admin user the token belongs to (--server)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const r = await host.withServices(g, (s) => s.session.whoami());
      printer(!!g.json).result({ user: userRow(r.user), via: r.via }, () => `${r.user.username} (${r.user.role}, via ${r.via})`);
    });

  program
    .command('password')
    .description('replace your password (--server); prompts, or reads current and new password as two lines of stdin')
    .option('--current-password-file <file>', 'read the current password from this file')
    .option('--new-password-file <file>', 'read the new password from this file')
    .action(async (opts: { currentPasswordFile?: string; newPasswordFile?: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      const current = await readSecret('current password', opts.currentPasswordFile);
      const next = await readSecret('new password', opts.newPasswordFile);
      const u = await host.withServices(g, (s) => s.session.changePassword(current, next));
      printer(!!g.json).result({ user: userRow(u) }, () => `Password of ${u.username} replaced.`);
    });

  const admin = program.command('admin').description('admin users of the management plane (roles: administrator, custodian, auditor)');
  const user = admin.command('user').description('admin users');
  user
    .command('add <username>')
    .description('create an admin user; prints a one-time password once')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .action(async (username: string, opts: { role: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      const r = await host.withServices(g, (s) => s.admins.createUser({ username, role: role(opts.role) }));
      printer(!!g.json).result({ user: userRow(r.user), oneTimePassword: r.oneTimePassword }, () =>
        [`Admin user '${username}' (${r.user.role}) created.`, fields([['One-time password', r.oneTimePassword]]), 'Shown only now; the user must replace it at first login.'].join('\n'),
      );
    });
  user
    .command('list')
    .description('list admin users')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const list = (await host.withServices(g, (s) => s.admins.listUsers())).map(userRow);
      printer(!!g.json).result(list, () => table(list, ['username', 'role', 'enabled', 'mustChangePassword', 'lockedUntil', 'lastLoginAt']));
    });
  user
    .command('show <username>')
    .description('show an admin user')
    .action(async (username: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const u = userRow(await host.withServices(g, (s) => s.admins.getUser(username)));
      printer(!!g.json).result(u, () => fields(Object.entries(u)));
    });
  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    user
      .command(`${verb} <username>`)
      .description(enabled ? 'enable an admin user' : 'disable an admin user; ends its sessions and API keys')
      .action(async (username: string, _o: unknown, cmd: Command) => {
        const g = globalsOf(cmd);
        const u = userRow(await host.withServices(g, (s) => s.admins.setEnabled(username, enabled)));
        printer(!!g.json).result(u, () => `Admin user '${username}' ${enabled ? 'enabled' : 'disabled'}.`);
      });
  }
  user
    .command('set-role <username> <role>')
    .description('give an admin user another role; ends its sessions and API keys')
    .action(async (username: string, r: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const u = userRow(await host.withServices(g, (s) => s.admins.setRole(username, role(r))));
      printer(!!g.json).result(u, () => `Admin user '${username}' is now ${u.role}.`);
    });

  admin
    .command('reset-password <username>')
    .description('new one-time password; unlocks the user. Without --server this works on the local database (break-glass)')
    .option('--enable', 'also enable the user if it was disabled')
    .action(async (username: string, opts: { enable?: boolean }, cmd: Command) => {
      const g = globalsOf(cmd);
      const r = await host.withServices(g, (s) => s.admins.resetPassword(username, opts.enable ? { enable: true } : {}));
      printer(!!g.json).result({ user: userRow(r.user), oneTimePassword: r.oneTimePassword }, () =>
        [`New one-time password for '${username}':`, fields([['One-time password', r.oneTimePassword]]), 'Shown only now; its sessions and API keys have ended.'].join('\n'),
      );
    });

  const apiKey = admin.command('api-key').description('API keys of the signed-in user, for automation (--server)');
  apiKey
    .command('create <name>')
    .description('create an API key with your role; printed once')
    .option('--expires-days <n>', 'expire after n days')
    .action(async (name: string, opts: { expiresDays?: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      const days = opts.expiresDays === undefined ? undefined : Number(opts.expiresDays);
      if (days !== undefined && !Number.isInteger(days)) throw new UsageError(`--expires-days '${opts.expiresDays}' must be a whole number`);
      const r = await host.withServices(g, (s) => s.session.createApiKey(name, days));
      printer(!!g.json).result({ apiKey: r.apiKey, info: apiKeyRow(r.info) }, () => [`API key '${name}' created:`, r.apiKey, 'Shown only now.'].join('\n'));
    });
  apiKey
    .command('list')
    .description('list your API keys')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const list = (await host.withServices(g, (s) => s.session.listApiKeys())).map(apiKeyRow);
      printer(!!g.json).result(list, () => table(list, ['id', 'name', 'hint', 'expiresAt', 'lastUsedAt', 'revokedAt']));
    });
  apiKey
    .command('revoke <id>')
    .description('revoke one of your API keys')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const k = apiKeyRow(await host.withServices(g, (s) => s.session.revokeApiKey(id)));
      printer(!!g.json).result(k, () => `API key '${k.name}' revoked.`);
    });
}
