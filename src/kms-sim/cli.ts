/**
 * `keyhold kms-sim`: runs the simulator until SIGINT/SIGTERM. The caller credential comes
 * from KMS_SIM_ACCESS_KEY_ID / KMS_SIM_SECRET_ACCESS_KEY (no defaults) and the account from
 * KMS_SIM_ACCOUNT_ID (default 111122223333); the environment is read once, here.
 * Every request log entry is printed to stdout as one JSON line (the CloudTrail stand-in).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Command, InvalidArgumentError, Option } from 'commander';

export const DEFAULT_LISTEN = '127.0.0.1:4599';
export const DEFAULT_ACCOUNT_ID = '111122223333';

export interface KmsSimCommandDeps {
  env?: NodeJS.ProcessEnv;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new InvalidArgumentError('expected HOST:PORT, e.g. 127.0.0.1:4599 or [::1]:4599');
  return { host: (m[1] ?? m[2])!, port };
}

function nonNegativeInt(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError('expected a non-negative integer');
  return Number(value);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

interface KmsSimFlags {
  listen: { host: string; port: number };
  proxyCa?: string;
  proxyTimeoutMs: number;
  connectDelayMs: number;
  healthIntervalMs: number;
  quiet?: boolean;
}

export function registerKmsSimCommand(program: Command, deps: KmsSimCommandDeps = {}): Command {
  const out = deps.out ?? ((l: string) => process.stdout.write(l + '\n'));
  const err = deps.err ?? ((l: string) => process.stderr.write(l + '\n'));
  return program
    .command('kms-sim')
    .description('Run a local AWS KMS simulator (JSON 1.1, SigV4 service "kms") that uses Keyhold as an external key store')
    .addOption(new Option('--listen <host:port>', 'address to listen on (plain HTTP)').argParser(parseListen).default(parseListen(DEFAULT_LISTEN), DEFAULT_LISTEN))
    .option('--proxy-ca <file>', 'PEM file of the CA that signs the XKS proxy certificate (for a self-signed proxy)')
    .option('--proxy-timeout-ms <ms>', 'timeout of each proxy call attempt (KMS: 250)', nonNegativeInt, 250)
    .option('--connect-delay-ms <ms>', 'delay before ConnectCustomKeyStore probes the proxy (KMS: about 300000)', nonNegativeInt, 0)
    .option('--health-interval-ms <ms>', 'interval of the periodic KmsHealthCheck, 0 to disable', nonNegativeInt, 60_000)
    .option('--quiet', 'do not print the request log')
    .addHelpText(
      'after',
      `
Environment:
  KMS_SIM_ACCESS_KEY_ID      access key id callers sign with (required)
  KMS_SIM_SECRET_ACCESS_KEY  its secret (required)
  KMS_SIM_ACCOUNT_ID         account of that credential (default ${DEFAULT_ACCOUNT_ID})

Example:
  export KMS_SIM_ACCESS_KEY_ID=AKIAKMSSIMULATOR01 KMS_SIM_SECRET_ACCESS_KEY=$(openssl rand -base64 30)
  keyhold kms-sim --proxy-ca keyhold-data/tls/server.crt
  AWS_ACCESS_KEY_ID=$KMS_SIM_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$KMS_SIM_SECRET_ACCESS_KEY \\
    aws --endpoint-url http://127.0.0.1:4599 --region us-east-1 kms list-keys`,
    )
    .action(async function (this: Command, flags: KmsSimFlags) {
      const env = deps.env ?? process.env;
      const accessKeyId = env.KMS_SIM_ACCESS_KEY_ID ?? '';
      const secretAccessKey = env.KMS_SIM_SECRET_ACCESS_KEY ?? '';
      const accountId = env.KMS_SIM_ACCOUNT_ID || DEFAULT_ACCOUNT_ID;
      const problems: string[] = [];
      if (!/^[A-Za-z0-9]{16,128}$/.test(accessKeyId)) problems.push('KMS_SIM_ACCESS_KEY_ID must be set to 16-128 letters and digits');
      if (secretAccessKey.length < 16 || secretAccessKey.length > 128) problems.push('KMS_SIM_SECRET_ACCESS_KEY must be set (16-128 characters)');
      if (!/^\d{12}$/.test(accountId)) problems.push('KMS_SIM_ACCOUNT_ID must be 12 digits');
      let proxyCa: Buffer | undefined;
      if (flags.proxyCa !== undefined) {
        try {
          proxyCa = readFileSync(flags.proxyCa);
        } catch (e) {
          problems.push(`--proxy-ca: cannot read ${flags.proxyCa} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
        }
      }
      if (problems.length > 0) this.error(`kms-sim: ${problems.join('; ')}`, { exitCode: 2 });

      // Loaded here: `keyhold start` and the other commands register this command but never run it.
      const { createKmsSimulator } = await import('./simulator.js');
      const sim = createKmsSimulator({
        credentials: [{ accessKeyId, secretAccessKey, accountId }],
        ...(proxyCa ? { proxyCa } : {}),
        proxyTimeoutMs: flags.proxyTimeoutMs,
        connectDelayMs: flags.connectDelayMs,
        healthCheckIntervalMs: flags.healthIntervalMs,
      });
      const { url } = await sim.listen(flags.listen.host, flags.listen.port);
      if (!flags.quiet) sim.requestLog.subscribe((e) => out(JSON.stringify(e)));
      if (!isLoopback(flags.listen.host)) err(`kms-sim: warning: listening on ${flags.listen.host} over plain HTTP; requests and responses (including data keys) are not encrypted in transit`);
      // --json is the program's global option (machine-readable output).
      const json = Boolean(this.optsWithGlobals<{ json?: boolean }>().json);
      out(json ? JSON.stringify({ url, accountId, accessKeyId }) : `kms-sim listening on ${url} (account ${accountId}); try: aws --endpoint-url ${url} --region us-east-1 kms list-keys`);

      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await sim.close();
    });
}
