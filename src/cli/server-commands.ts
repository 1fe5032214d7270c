import { Command, Option } from 'commander';
import type { CliHost } from './host.js';
import { fields, printer } from './output.js';
import { globalsOf as globals } from './shared.js';

/** init | start: create a data directory and serve it. */
export function registerServerCommands(program: Command, host: CliHost): void {
  program
    .command('init')
    .description('create the data directory: config, seal, TLS certificate, and a demo key store')
    .option('--no-demo', 'do not create the demo key store, key and credential')
    .addOption(new Option('--seal <type>', 'what protects stored secrets').choices(['keyfile', 'passphrase', 'hsm']))
    .option('--hsm-module <path>', 'PKCS#11 module (writes an [hsm] section)')
    .option('--hsm-token-label <label>', 'token label (slot ids change; labels do not)')
    .option('--hsm-pin-env <name>', 'environment variable that holds the user PIN')
    .option('--hsm-pin-file <file>', 'file that holds the user PIN')
    .option('--hsm-profile <name>', 'capability profile: softhsm2, nshield, luna, cloudhsm, fortanix, generic')
    .option('--hsm-seal-key-label <label>', 'label of the seal key in the token (default keyhold-seal)')
    .action(
      async (
        opts: { demo: boolean; seal?: string; hsmModule?: string; hsmTokenLabel?: string; hsmPinEnv?: string; hsmPinFile?: string; hsmProfile?: string; hsmSealKeyLabel?: string },
        cmd: Command,
      ) => {
      const g = globals(cmd);
      const settings = {
        'seal.type': opts.seal,
        'seal.hsm_key_label': opts.hsmSealKeyLabel,
        'hsm.module': opts.hsmModule,
        'hsm.token_label': opts.hsmTokenLabel,
        'hsm.pin_env': opts.hsmPinEnv,
        'hsm.pin_file': opts.hsmPinFile,
        'hsm.profile': opts.hsmProfile,
      };
      const summary = await host.init({ ...g, demo: opts.demo, settings });
      printer(!!g.json).result(summary, () => describeInit(summary as InitLike));
      },
    );

  program
    .command('start')
    .description('serve the XKS proxy API (and keep running until SIGINT/SIGTERM)')
    .option('--xks-listen <host:port>', 'XKS listener address (default 127.0.0.1:8443)')
    .option('--admin-listen <host:port>', 'admin API listener address (default 127.0.0.1:8444)')
    .option('--init-if-absent', 'initialise the data directory first when it does not exist')
    .option('--workers <n>', "processes serving XKS on the one listener: a number, or 'auto' for one per core (default: xks.workers, 'auto')")
    .action(async (opts: { xksListen?: string; adminListen?: string; initIfAbsent?: boolean; workers?: string }, cmd: Command) => {
      await host.start({ ...globals(cmd), ...opts });
    });
}

interface InitLike {
  dataDir: string;
  configFile: string;
  seal: string;
  tlsCertificate: string;
  admin?: { username: string; oneTimePassword: string };
  demo?: { keyStore: string; uriPath: string; keyId: string; credential: { accessKeyId: string; secretAccessKey: string } };
}

function describeInit(s: InitLike): string {
  const lines = [
    `Initialised ${s.dataDir}`,
    fields([
      ['Config', s.configFile],
      ['Seal', s.seal],
      ['TLS certificate', s.tlsCertificate],
    ]),
  ];
  if (s.demo) {
    lines.push(
      '',
      `Demo key store '${s.demo.keyStore}' with key '${s.demo.keyId}':`,
      fields([
        ['URI path', s.demo.uriPath],
        ['Access key id', s.demo.credential.accessKeyId],
        ['Secret access key', s.demo.credential.secretAccessKey],
      ]),
      'The secret is shown only now.',
    );
  }
  if (s.admin) {
    lines.push(
      '',
      'First administrator (for the admin API; replace the password at first login):',
      fields([
        ['Username', s.admin.username],
        ['One-time password', s.admin.oneTimePassword],
      ]),
      'The password is shown only now. Lost it? keyhold admin reset-password ' + s.admin.username,
    );
  }
  return lines.join('\n');
}
