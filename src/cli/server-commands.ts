import { Command, Option } from 'commander';
import type { CliHost } from './host.js';
import { fields, printer, table } from './output.js';
import { globalsOf as globals } from './shared.js';

/** init | start | status: create a data directory, serve it, and see how it is doing. */
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

  program
    .command('status')
    .description('is a server running on this data directory: listeners, XKS health, key stores and keys, audit chain, certificate expiry')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const st = (await host.status(g)) as StatusLike;
      printer(!!g.json).result(st, () => describeStatus(st));
    });
}

interface StatusLike {
  dataDir: string;
  initialised: boolean;
  server: { running: boolean; pid?: number; startedAt?: string; xks?: string; admin?: string | null; metrics?: string | null; workers?: number };
  health?: { keyStore?: string; status?: number | null; healthStatus?: string[]; fleetSize?: number; error?: string; skipped?: string };
  keyStores?: { name: string; uriPath: string; enabled: boolean; regions: string[]; keys: number }[];
  keys?: { total: number; enabled: number; software: number; hsm: number };
  audit?: { ok: boolean; records: number; problem?: string };
  certificate?: { file: string; validTo?: string; daysLeft?: number; error?: string };
}

function describeStatus(s: StatusLike): string {
  if (!s.initialised) return `${s.dataDir} is not initialised. Run: keyhold init`;
  const sv = s.server;
  const h = s.health;
  const lines = [
    fields([
      ['Data directory', s.dataDir],
      ['Server', sv.running ? `running (pid ${sv.pid}, since ${sv.startedAt}${sv.workers ? `, ${sv.workers} workers` : ''})` : 'not running (keyhold start)'],
      ...(sv.running
        ? ([
            ['XKS listener', sv.xks ?? 'starting'],
            ['Admin API', sv.admin ?? 'off'],
            ...(sv.metrics ? ([['Metrics', sv.metrics]] as [string, unknown][]) : []),
          ] as [string, unknown][])
        : []),
      ['XKS health', !h ? '-' : h.skipped ? `not checked: ${h.skipped}` : h.error ? `${h.keyStore}: ${h.status ?? 'no answer'} ${h.error}` : `${h.keyStore}: ${(h.healthStatus ?? []).join(', ') || 'no backends'} (fleet size ${h.fleetSize ?? '?'})`],
      ['Keys', s.keys ? `${s.keys.total} (${s.keys.enabled} enabled; ${s.keys.software} software, ${s.keys.hsm} HSM)` : '-'],
      ['Audit chain', s.audit ? (s.audit.ok ? `intact, ${s.audit.records} record(s)` : `BROKEN: ${s.audit.problem} (keyhold audit verify)`) : '-'],
      ['TLS certificate', !s.certificate ? '-' : s.certificate.error ? `${s.certificate.file}: ${s.certificate.error}` : `${s.certificate.file}, expires ${s.certificate.validTo} (${s.certificate.daysLeft} days)`],
    ]),
  ];
  if (s.keyStores?.length) lines.push('', 'Key stores:', table(s.keyStores.map((k) => ({ ...k, regions: k.regions.length ? k.regions : 'any' })), ['name', 'uriPath', 'enabled', 'regions', 'keys']));
  return lines.join('\n');
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
