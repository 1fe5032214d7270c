import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { awsIamPolicy, type AwsConnection, type AwsConnectionTestResult, type AwsCredentialInput, type AwsKeyInput, type KeyStoreInAwsResult } from '../domain/index.js';
import type { ManagementServices } from './host.js';
import type { CliHost } from './host.js';
import { fields, printer, table } from './output.js';
import { globalsOf as globals, UsageError } from './shared.js';

export function awsConnectionView(c: AwsConnection) {
  return {
    name: c.name,
    region: c.region,
    regions: c.regions,
    endpoint: c.endpoint,
    stsEndpoint: c.stsEndpoint,
    caBundle: c.caPem !== null,
    accountId: c.accountId,
    credentials: { source: c.credentialSource, accessKeyId: c.accessKeyId, roleArn: c.roleArn, externalId: c.externalId },
    id: c.id,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

interface ConnectionFlags {
  region?: string;
  regions?: string;
  endpoint?: string;
  stsEndpoint?: string;
  caBundle?: string;
  accountId?: string;
  accessKeyId?: string;
  secretAccessKeyFile?: string;
  roleArn?: string;
  externalId?: string;
  defaultCredentials?: boolean;
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The one credential source the flags name, or undefined when they name none. */
function credentialsFrom(o: ConnectionFlags): AwsCredentialInput | undefined {
  const hasStatic = o.accessKeyId !== undefined || o.secretAccessKeyFile !== undefined;
  const sources = [hasStatic && !o.roleArn, o.roleArn !== undefined, !!o.defaultCredentials].filter(Boolean).length;
  if (sources > 1) throw new UsageError('give one credential source: --access-key-id with --secret-access-key-file, --role-arn, or --default-credentials');
  if (o.externalId !== undefined && !o.roleArn) throw new UsageError('--external-id goes with --role-arn');
  if (hasStatic && (o.accessKeyId === undefined || o.secretAccessKeyFile === undefined)) throw new UsageError('a static key needs both --access-key-id and --secret-access-key-file');
  // The secret is read from a file (or stdin), never from the command line where `ps` shows it.
  const secret = o.secretAccessKeyFile === undefined ? undefined : readText(o.secretAccessKeyFile, '--secret-access-key-file').trim();
  if (o.defaultCredentials) return { source: 'default' };
  if (o.roleArn) return { source: 'assume-role', roleArn: o.roleArn, externalId: o.externalId, accessKeyId: o.accessKeyId, secretAccessKey: secret };
  if (hasStatic) return { source: 'static', accessKeyId: o.accessKeyId!, secretAccessKey: secret! };
  return undefined;
}

const list = (v: string | undefined) => (v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean));

function connectionOptions(c: Command): Command {
  return c
    .option('--regions <list>', 'further Regions this connection may be used in, comma-separated')
    .option('--endpoint <url>', 'KMS endpoint override (the KMS simulator, moto, a VPC endpoint)')
    .option('--sts-endpoint <url>', 'STS endpoint override (for AssumeRole and the identity check)')
    // Not --ca-file: that global option is the admin server's trust for --server.
    .option('--ca-bundle <pem>', 'PEM file of the CA bundle trusted for the AWS endpoints (e.g. behind a TLS-inspecting proxy)')
    .option('--account-id <id>', 'the 12-digit account the credentials must belong to')
    .option('--access-key-id <id>', 'static credentials: the access key id')
    .option('--secret-access-key-file <file>', "static credentials: file holding the secret ('-' for stdin); sealed, never shown again")
    .option('--role-arn <arn>', 'assume this IAM role with STS (from the static key when given, else the default chain)')
    .option('--external-id <id>', 'external id the role trust policy requires')
    .option('--default-credentials', "the AWS SDK's default chain: environment, shared config, web identity, instance profile");
}

export function describeTest(r: AwsConnectionTestResult): string {
  const head = r.connected ? `Connected (${r.connection}, ${r.region})` : `Not connected (${r.connection}, ${r.region}): ${r.reason ?? 'unknown'}${r.detail ? ` - ${r.detail}` : ''}`;
  const lines = [head];
  if (r.identity) lines.push(fields([['Account', r.identity.account], ['Identity', r.identity.arn]]));
  if (r.groups.length) {
    lines.push('', table(r.groups.map((g) => ({ group: g.group, ok: g.ok, actions: g.actions.join(','), reason: g.reason, detail: g.detail })), ['group', 'ok', 'actions', 'reason', 'detail']));
  }
  return lines.join('\n');
}

function seconds(v: string): number {
  if (!/^\d{1,5}$/.test(v)) throw new UsageError(`--wait-seconds '${v}' must be a whole number of seconds`);
  return Number(v);
}

const progress = (msg: string) => process.stderr.write(`... ${msg}\n`);

function reportConnection(json: boolean, r: KeyStoreInAwsResult, verb: string): void {
  printer(json).result(r, () =>
    r.connectionState === 'CONNECTED'
      ? `Custom key store ${r.customKeyStoreId} (${r.customKeyStoreName}, ${r.region}) ${verb}: CONNECTED. Create KMS keys with: keyhold key create ID --keystore ${r.keyStore} --aws-key`
      : [
          `Custom key store ${r.customKeyStoreId} (${r.customKeyStoreName}, ${r.region}) is ${r.connectionState}.`,
          ...(r.connectionErrorCode ? [`  ConnectionErrorCode: ${r.connectionErrorCode}`, `  What to fix: ${r.hint}`] : [`  Still waiting after ${Math.round(r.waitedMs / 1000)} s; check later with: keyhold aws keystore status ${r.keyStore}`]),
          `  Then: keyhold aws keystore connect ${r.keyStore}`,
        ].join('\n'),
  );
  if (r.connectionState !== 'CONNECTED') process.exitCode = 1;
}

export interface AwsKeyFlags {
  alias?: string;
  awsAdmin?: string[];
  awsUser?: string[];
}

/** --alias/--aws-admin/--aws-user, shared by `key create --aws-key` and `key link-aws`. */
export function awsKeyOptions(c: Command): Command {
  return c
    .option('--alias <alias/NAME>', 'an alias for the KMS key')
    .option('--aws-admin <arn...>', 'IAM principals allowed to administer the KMS key (repeatable)')
    .option('--aws-user <arn...>', 'IAM principals allowed to use the KMS key for Encrypt/Decrypt/GenerateDataKey (repeatable)');
}

export function awsKeyInput(o: AwsKeyFlags & { description?: string | undefined }): AwsKeyInput {
  return { alias: o.alias, admins: o.awsAdmin, users: o.awsUser, description: o.description };
}

export function describeAwsKey(r: { keyId: string; kmsKeyArn: string; alias: string | null; aliasError?: string | undefined }): string {
  return [`KMS key ${r.kmsKeyArn} created for '${r.keyId}'${r.alias ? ` (${r.alias})` : ''}.`, ...(r.aliasError ? [`warning: the alias was not created: ${r.aliasError}`] : [])].join('\n');
}

/** The ARN of the KMS key made for each key (by Keyhold's internal key id). */
export async function awsArnsByKeyId(s: ManagementServices): Promise<Map<string, string>> {
  return new Map((await s.aws.xks.listKeyLinks()).map((l) => [l.keyId, l.kmsKeyArn]));
}

/** Disabling or deleting a key with a KMS key: say which AWS key goes dark. */
export async function warnAboutAwsKey(s: ManagementServices, keyId: string, what: string): Promise<void> {
  const link = await s.aws.xks.keyLink(keyId).catch(() => undefined);
  if (link) process.stderr.write(`warning: key '${keyId}' backs the KMS key ${link.kmsKeyArn}; ${what}\n`);
}

/** `keyhold aws …`: AWS connections, and the XKS side in AWS KMS (docs/aws.md). */
export function registerAwsCommands(program: Command, host: CliHost): Command {
  const aws = program.command('aws').description('the AWS side: connections to AWS accounts, custom key stores and KMS keys made for Keyhold');
  const connection = aws.command('connection').description('AWS connections: account, Regions, credentials (sealed), endpoint override, CA');

  connectionOptions(
    connection
      .command('add <name>')
      .description('add a connection; it is saved even when it cannot connect yet (run `aws connection test`)')
      .requiredOption('--region <region>', 'the default Region'),
  ).action(async (name: string, o: ConnectionFlags, cmd: Command) => {
    const g = globals(cmd);
    const credentials = credentialsFrom(o);
    if (!credentials) throw new UsageError('give a credential source: --access-key-id with --secret-access-key-file, --role-arn, or --default-credentials');
    const c = await host.withServices(g, (s) =>
      s.aws.connections.create({
        name,
        region: o.region!,
        regions: list(o.regions),
        endpoint: o.endpoint,
        stsEndpoint: o.stsEndpoint,
        caPem: o.caBundle === undefined ? undefined : readText(o.caBundle, '--ca-bundle'),
        accountId: o.accountId,
        credentials,
      }),
    );
    printer(!!g.json).result(awsConnectionView(c), () => `AWS connection '${c.name}' added (${c.region}, ${c.credentialSource} credentials). Check it with: keyhold aws connection test ${c.name}`);
  });

  connection
    .command('list')
    .description('list connections (never their secrets)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const rows = (await host.withServices(g, (s) => s.aws.connections.list())).map(awsConnectionView);
      printer(!!g.json).result(rows, () => table(rows.map((r) => ({ ...r, credentials: r.credentials.source })), ['name', 'region', 'regions', 'credentials', 'endpoint', 'accountId']));
    });

  connection
    .command('show <name>')
    .description('show a connection (never its secret)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const c = awsConnectionView(await host.withServices(g, (s) => s.aws.connections.get(name)));
      printer(!!g.json).result(c, () =>
        fields([
          ['Name', c.name],
          ['Region', c.region],
          ['Regions', c.regions],
          ['Endpoint', c.endpoint ?? 'AWS'],
          ['STS endpoint', c.stsEndpoint ?? 'AWS'],
          ['CA bundle', c.caBundle ? 'custom' : "Node's roots"],
          ['Account', c.accountId ?? 'not pinned'],
          ['Credentials', c.credentials.source],
          ...(c.credentials.accessKeyId ? ([['Access key id', c.credentials.accessKeyId]] as [string, unknown][]) : []),
          ...(c.credentials.roleArn ? ([['Role', c.credentials.roleArn]] as [string, unknown][]) : []),
          ...(c.credentials.externalId ? ([['External id', c.credentials.externalId]] as [string, unknown][]) : []),
          ['Created', c.createdAt],
          ['Updated', c.updatedAt],
        ]),
      );
    });

  connectionOptions(
    connection
      .command('update <name>')
      .description('change a connection; a credential source given replaces the old one')
      .option('--region <region>', 'the default Region')
      .option('--clear-endpoint', 'remove the KMS endpoint override')
      .option('--clear-sts-endpoint', 'remove the STS endpoint override')
      .option('--clear-ca-bundle', 'remove the custom CA bundle'),
  ).action(async (name: string, o: ConnectionFlags & { clearEndpoint?: boolean; clearStsEndpoint?: boolean; clearCaBundle?: boolean }, cmd: Command) => {
    const g = globals(cmd);
    const credentials = credentialsFrom(o);
    const c = await host.withServices(g, (s) =>
      s.aws.connections.update(name, {
        ...(o.region !== undefined ? { region: o.region } : {}),
        ...(o.regions !== undefined ? { regions: list(o.regions) } : {}),
        ...(o.clearEndpoint ? { endpoint: null } : o.endpoint !== undefined ? { endpoint: o.endpoint } : {}),
        ...(o.clearStsEndpoint ? { stsEndpoint: null } : o.stsEndpoint !== undefined ? { stsEndpoint: o.stsEndpoint } : {}),
        ...(o.clearCaBundle ? { caPem: null } : o.caBundle !== undefined ? { caPem: readText(o.caBundle, '--ca-bundle') } : {}),
        ...(o.accountId !== undefined ? { accountId: o.accountId } : {}),
        ...(credentials ? { credentials } : {}),
      }),
    );
    printer(!!g.json).result(awsConnectionView(c), () => `AWS connection '${c.name}' updated.`);
  });

  connection
    .command('delete <name>')
    .description('delete a connection no key store or key is linked through')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      await host.withServices(g, (s) => s.aws.connections.delete(name));
      printer(!!g.json).result({ deleted: name }, () => `AWS connection '${name}' deleted.`);
    });

  connection
    .command('test <name>')
    .description('try the connection: prints Connected or Not connected with the reason, and each KMS action group (exit code 1 when not connected)')
    .option('--region <region>', 'a Region of the connection (default: its Region)')
    .action(async (name: string, o: { region?: string }, cmd: Command) => {
      const g = globals(cmd);
      const r = await host.withServices(g, (s) => s.aws.connections.test(name, o.region));
      printer(!!g.json).result(r, () => describeTest(r));
      if (!r.connected) process.exitCode = 1;
    });

  const keystore = aws.command('keystore').description("a key store's custom key store in AWS KMS (type EXTERNAL_KEY_STORE)");
  keystore
    .command('create <keystore>')
    .description('CreateCustomKeyStore with the key store\'s URI path and newest credential, then ConnectCustomKeyStore, waiting for CONNECTED')
    .requiredOption('--connection <name>', 'the AWS connection to create it with')
    .requiredOption('--endpoint <url>', 'https://HOST where AWS KMS reaches Keyhold (public endpoint, or the VPC endpoint service private DNS name)')
    .option('--region <region>', "a Region of the connection (default: the connection's)")
    .option('--vpc-endpoint-service <name>', 'com.amazonaws.vpce.REGION.vpce-svc-... (VPC_ENDPOINT_SERVICE connectivity)')
    .option('--aws-name <name>', 'the custom key store name in AWS (default keyhold-KEYSTORE)')
    .option('--wait-seconds <n>', 'how long to wait for the connection (KMS takes up to ~5 minutes)', '600')
    .action(async (name: string, o: { connection: string; endpoint: string; region?: string; vpcEndpointService?: string; awsName?: string; waitSeconds: string }, cmd: Command) => {
      const g = globals(cmd);
      const waitMs = seconds(o.waitSeconds) * 1000;
      const r = await host.withServices(g, (s) =>
        s.aws.xks.createKeyStore(name, { connection: o.connection, endpoint: o.endpoint, region: o.region, vpcEndpointServiceName: o.vpcEndpointService, awsName: o.awsName, waitMs }, progress),
      );
      reportConnection(!!g.json, r, 'created');
    });
  keystore
    .command('connect <keystore>')
    .description('connect the custom key store again (a FAILED one is disconnected first) and wait for CONNECTED')
    .option('--wait-seconds <n>', 'how long to wait', '600')
    .action(async (name: string, o: { waitSeconds: string }, cmd: Command) => {
      const g = globals(cmd);
      const r = await host.withServices(g, (s) => s.aws.xks.connect(name, { waitMs: seconds(o.waitSeconds) * 1000 }, progress));
      reportConnection(!!g.json, r, 'connected');
    });
  keystore
    .command('status <keystore>')
    .description('the custom key store in AWS: connection state, error code, and how many KMS keys use it')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const st = await host.withServices(g, (s) => s.aws.xks.status(name));
      printer(!!g.json).result(st, () =>
        st.linked
          ? fields([
              ['Key store', st.keyStore],
              ['Custom key store', `${st.customKeyStoreId} (${st.customKeyStoreName})`],
              ['Connection', `${st.connection} (${st.region})`],
              ['Endpoint', st.endpoint],
              ['State', st.connectionState],
              ...(st.connectionErrorCode ? ([['Error code', st.connectionErrorCode], ['What to fix', st.hint]] as [string, unknown][]) : []),
              ['AWS signs with', st.awsAccessKeyId],
              ['KMS keys', `${st.kmsKeys}${st.kmsKeysCountComplete ? '' : ' (first 1000 keys of the account counted)'}`],
              ['Linked by Keyhold', st.linkedKeys],
            ])
          : `Key store '${st.keyStore}' has no custom key store in AWS. Create one with: keyhold aws keystore create ${st.keyStore} --connection NAME --endpoint https://HOST`,
      );
    });

  const key = program.commands.find((c) => c.name() === 'key');
  if (key) {
    awsKeyOptions(key.command('link-aws <keyId>').description('create the KMS key for an existing Keyhold key (Origin EXTERNAL_KEY_STORE, XksKeyId = the key id), with its key policy and alias'))
      .option('--description <text>', 'the KMS key description (default: the key\'s)')
      .action(async (keyId: string, o: AwsKeyFlags & { description?: string }, cmd: Command) => {
        const g = globals(cmd);
        const r = await host.withServices(g, (s) => s.aws.xks.createAwsKey(keyId, awsKeyInput(o)));
        printer(!!g.json).result(r, () => describeAwsKey(r));
        if (r.aliasError) process.exitCode = 1;
      });
  }

  aws
    .command('iam-policy')
    .description('print the IAM policy (JSON) a connection needs')
    .option('--connection <name>', "scope it to this connection's account and Regions")
    .action(async (o: { connection?: string }, cmd: Command) => {
      const g = globals(cmd);
      const policy = o.connection
        ? await host.withServices(g, async (s) => {
            const c = await s.aws.connections.get(o.connection!);
            return awsIamPolicy({ accountId: c.accountId, regions: c.regions });
          })
        : awsIamPolicy();
      process.stdout.write(JSON.stringify(policy, null, 2) + '\n');
    });
  return aws;
}
