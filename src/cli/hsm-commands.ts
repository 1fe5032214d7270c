import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CliHost } from './host.js';
import { printer } from './output.js';
import { globalsOf as globals, UsageError } from './shared.js';

/** hsm status | set-pin. */
export function registerHsmCommands(program: Command, host: CliHost): void {
  const hsm = program.command('hsm').description('the PKCS#11 token configured in [hsm]');
  hsm
    .command('status')
    .description('token, capability profile, sessions, and a test encryption on the health key')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const st = await host.withServices(g, (s) => (s.hsm ?? noHsm()).status());
      printer(!!g.json).result(st, () => JSON.stringify(st, null, 2));
    });
  hsm
    .command('set-pin')
    .description('store the user PIN sealed in storage (hsm.pin_sealed = true); reads it from stdin')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const pin = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
      if (!pin) throw new UsageError('no PIN on stdin');
      await host.withServices(g, (s) => (s.hsm ?? noHsm()).setPin(pin));
      printer(!!g.json).result({ stored: true }, () => 'HSM PIN stored, sealed. Set hsm.pin_sealed = true in the configuration.');
    });
}

function noHsm(): never {
  throw new UsageError('no [hsm] section is configured (see docs/hsm.md)');
}
