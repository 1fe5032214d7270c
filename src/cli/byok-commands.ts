import { openSync, closeSync, fstatSync, readFileSync, readSync, unlinkSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import { decodeBase64Strict } from '../base/index.js';
import { parseUsage } from '../domain/index.js';
import type { AwsKeyRecord } from '../domain/index.js';
import type { CliHost, GlobalOptions, ManagementServices } from './host.js';
import { fields, printer, table } from './output.js';
import { globalsOf, keyView, lifecycleFromOptions, UsageError } from './shared.js';

/** A key file is 32 bytes raw, or its Base64/hex text, or a wrap of it: never more than this. */
const MAX_KEY_FILE_BYTES = 4096;

export type MaterialFormat = 'raw' | 'base64' | 'hex';

/** Decodes a key file's bytes; the caller wipes both buffers. */
export function decodeMaterial(bytes: Buffer, format: MaterialFormat): Buffer {
  if (format === 'raw') return Buffer.from(bytes);
  const text = bytes.toString('latin1').replace(/\s+/g, '');
  if (format === 'hex') {
    if (text.length === 0 || text.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(text)) throw new UsageError('the file is not hex (an even number of 0-9 a-f characters)');
    return Buffer.from(text, 'hex');
  }
  const out = decodeBase64Strict(text);
  if (!out || out.length === 0) throw new UsageError('the file is not Base64');
  return out;
}

function readKeyFile(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_KEY_FILE_BYTES) throw new UsageError(`${path} is ${size} bytes; a key file holds at most ${MAX_KEY_FILE_BYTES}`);
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/** Overwrites the file with zeros, then removes it. Returns an error text when that failed. */
function destroyFile(path: string, size: number): string | undefined {
  try {
    const fd = openSync(path, 'r+');
    try {
      writeSync(fd, Buffer.alloc(size), 0, size, 0);
    } finally {
      closeSync(fd);
    }
    unlinkSync(path);
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'error';
  }
}

/** Bring your own key: `keyhold key import`. */
export function registerByokCommands(_program: Command, key: Command, host: CliHost): void {
  key
    .command('import <keyId>')
    .description('create a software key from existing material (32 bytes), sealed at once; the file is overwritten and removed afterwards')
    .requiredOption('--keystore <name>', 'key store that serves it')
    .requiredOption('--file <path>', 'the key material')
    .addOption(new Option('--format <format>', 'raw: 32 bytes; base64 or hex: their text').choices(['raw', 'base64', 'hex']).makeOptionMandatory())
    .option('--wrapped-with <keyId>', 'the file holds an RFC 5649 AES key wrap (openssl -id-aes256-wrap-pad) under this local key')
    .option('--exportable', 'the material may be copied into AWS KMS (off by default; cannot be turned on later)')
    .option('--usage <list>', 'encrypt,decrypt (default), encrypt, decrypt or none', 'encrypt,decrypt')
    .option('--description <text>', 'free text for operators')
    .option('--tag <key=value...>', 'tags (repeatable)')
    .option('--keep-file', 'leave the file in place (default: overwrite and remove it after a successful import)')
    .action(
      async (
        keyId: string,
        opts: { keystore: string; file: string; format: MaterialFormat; wrappedWith?: string; exportable?: boolean; usage: string; description?: string; tag?: string[]; keepFile?: boolean },
        cmd: Command,
      ) => {
        const g = globalsOf(cmd);
        const usage = parseUsage(opts.usage);
        const lc = lifecycleFromOptions({ description: opts.description, tag: opts.tag });
        const raw = readKeyFile(opts.file);
        let material: Buffer;
        try {
          material = decodeMaterial(raw, opts.format);
        } finally {
          raw.fill(0);
        }
        const created = await host.withServices(g, (s) =>
          s.keys.importKey({
            externalId: keyId,
            keyStore: opts.keystore,
            material,
            ...(opts.wrappedWith !== undefined ? { wrappedWith: opts.wrappedWith } : {}),
            exportable: opts.exportable ?? false,
            usage,
            ...lc,
          }),
        );
        material.fill(0);
        const problem = opts.keepFile ? undefined : destroyFile(opts.file, raw.length);
        const out = { ...keyView(created, opts.keystore), file: opts.keepFile ? 'kept' : problem ? `not removed (${problem})` : 'removed' };
        printer(!!g.json).result(out, () =>
          [
            `Key '${keyId}' imported into '${opts.keystore}' (software, usage: ${usage.join(',') || 'none'}, ${created.exportable ? 'exportable' : 'not exportable: serves XKS only'}).`,
            opts.keepFile ? `The file ${opts.file} was kept: destroy it when you no longer need it.` : problem ? `warning: could not remove ${opts.file} (${problem}); destroy it yourself.` : `The file ${opts.file} was overwritten and removed.`,
          ].join('\n'),
        );
      },
    );
}

function awsKeyRow(k: AwsKeyRecord) {
  return {
    keyId: k.keyId,
    region: k.region,
    aliases: k.aliases,
    spec: k.keySpec,
    usage: k.keyUsage,
    origin: k.origin,
    manager: k.keyManager,
    state: k.state,
    linkedTo: k.localKeyId,
    arn: k.arn,
  };
}

/** `keyhold key list --all`: local and AWS keys in one table (the vendors' "security objects"). */
export async function allKeysView(s: ManagementServices) {
  const names = new Map((await s.keyStores.list()).map((ks) => [ks.id, ks.name]));
  const local = (await s.keys.list()).map((k) => keyView(k, names.get(k.keyStoreId)));
  const aws = await s.awsKeys.list();
  // Keyhold's own XKS keys in AWS are the local key seen from AWS: one row, with its ARN.
  const xksByLocal = new Map<string, string[]>();
  for (const a of aws) if (a.localKeyId !== null) xksByLocal.set(a.localKeyId, [...(xksByLocal.get(a.localKeyId) ?? []), a.arn]);
  return [
    ...local.map((k) => ({ kind: 'local', id: k.keyId, where: k.keyStore, spec: 'AES_256', origin: k.origin, state: k.state, exportable: k.exportable, awsArns: xksByLocal.get(k.keyId) ?? [] })),
    ...aws.filter((a) => a.localKeyId === null).map((a) => ({ kind: 'aws', id: a.aliases[0] ?? a.keyId, where: a.region, spec: a.keySpec, origin: a.origin, state: a.state, exportable: null, awsArns: [a.arn] })),
  ];
}

/** `keyhold aws sync`, `aws key list|show|import` and `key links`. */
export function registerAwsKeyCommands(program: Command, key: Command, host: CliHost): void {
  const aws = program.commands.find((c) => c.name() === 'aws') ?? program.command('aws').description('the AWS side');
  aws
    .command('sync <connection>')
    .description("read every KMS key of the connection's Region into Keyhold (idempotent; an interrupted sync resumes)")
    .option('--region <region>', "the Region (default: the connection's)")
    .option('--concurrency <n>', 'keys read at once (1-32)', '8')
    .action(async (connection: string, opts: { region?: string; concurrency: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency)) throw new UsageError(`--concurrency '${opts.concurrency}' must be a whole number`);
      const tty = process.stderr.isTTY && !g.json;
      const r = await host.withServices(g, (s) =>
        s.awsKeys.sync(connection, { region: opts.region, concurrency, onProgress: tty ? (p) => process.stderr.write(`\r${p.region}: ${p.keys} keys, ${p.pages} pages`) : undefined }),
      );
      if (tty) process.stderr.write('\n');
      printer(!!g.json).result(r, () =>
        `Synced ${r.seen} keys of ${r.connection} in ${r.region}${r.resumed ? ' (resumed)' : ''}: ${r.added} added, ${r.updated} updated, ${r.unchanged} unchanged, ${r.gone.length} gone; ${r.linked} of Keyhold's own XKS keys linked.`,
      );
    });
  const awsKey = aws.command('key').description('native AWS KMS keys as Keyhold knows them (after aws sync)');
  awsKey
    .command('list')
    .description('list AWS keys')
    .option('--connection <name>', 'only this connection')
    .option('--region <region>', 'only this Region')
    .option('--state <state>', 'only keys in this KMS state (Enabled, Disabled, PendingDeletion, PendingImport, Gone, ...)')
    .action(async (opts: { connection?: string; region?: string; state?: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      const rows = (await host.withServices(g, (s) => s.awsKeys.list(opts))).map(awsKeyRow);
      printer(!!g.json).result(rows, () => table(rows, ['keyId', 'region', 'aliases', 'spec', 'origin', 'manager', 'state', 'linkedTo']));
    });
  awsKey
    .command('show <key>')
    .description('show an AWS key (key id, ARN or alias) and the local material copied into it')
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const r = await host.withServices(g, (s) => s.awsKeys.show(ref));
      printer(!!g.json).result(r, () =>
        [
          fields([
            ['ARN', r.key.arn],
            ['Aliases', r.key.aliases],
            ['Spec', `${r.key.keySpec} (${r.key.keyUsage})`],
            ['Origin', r.key.origin],
            ['Manager', r.key.keyManager],
            ['State', r.key.state],
            ['Description', r.key.description || '-'],
            ['Tags', Object.entries(r.key.tags).map(([k, v]) => `${k}=${v}`)],
            ['Rotation', r.key.rotation === null ? 'not in KMS' : r.key.rotation.enabled ? `every ${r.key.rotation.periodDays ?? '?'} days` : 'off'],
            ['Expiration', r.key.expirationModel ?? '-'],
            ['Valid to', r.key.validTo ?? '-'],
            ['Linked local key', r.key.localKeyId ?? '-'],
            ['Superseded', r.superseded ? `by ${r.superseded.by} on ${r.superseded.at} (${r.superseded.actor}): still decrypts, takes no new local versions` : '-'],
            ['Synced', r.key.syncedAt],
          ]),
          '',
          r.copies.length ? table(r.copies.map((c) => ({ localKey: c.localKey, version: c.localVersion, copiedBy: c.copiedBy, copiedAt: c.copiedAt, expiration: c.expirationModel })), ['localKey', 'version', 'copiedBy', 'copiedAt', 'expiration']) : 'No local material was copied into this key.',
        ].join('\n'),
      );
    });
  awsKey
    .command('import <localKey>')
    .description('copy an exportable local key into AWS KMS: a new key with imported material in each Region, or (--into) into an existing key awaiting material')
    .option('--connection <name>', 'AWS connection (required without --into)')
    .option('--into <awsKey>', 'an existing EXTERNAL-origin AWS key in PendingImport (key id, ARN or alias, as synced) to import into instead of creating one')
    .option('--region <region...>', "Regions (repeatable; default: the connection's; with --into at most the key's one Region)")
    .option('--alias <alias>', 'alias/NAME to create for the AWS key in each Region')
    .option('--valid-to <iso>', 'the material expires then in AWS (default: it does not expire)')
    .option('--description <text>', 'description of a new AWS key (not with --into)')
    .action(async (localKey: string, opts: { connection?: string; into?: string; region?: string[]; alias?: string; validTo?: string; description?: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      if (opts.connection === undefined && opts.into === undefined) throw new UsageError('give --connection NAME (a new AWS key) or --into AWS_KEY (an existing key awaiting material)');
      const r = await host.withServices(g, (s) =>
        s.awsKeys.importLocal({ localKey, connection: opts.connection, into: opts.into, regions: opts.region, alias: opts.alias, validTo: opts.validTo, description: opts.description }),
      );
      printer(!!g.json).result(r, () =>
        [`Key '${localKey}' (version ${r.localVersion}) copied into AWS KMS:`, ...r.copies.map((c) => `  ${c.region}: ${c.awsKeyArn}${c.alias ? ` (${c.alias})` : ''}, ${c.expirationModel}${c.validTo ? ` until ${c.validTo}` : ''}`)].join('\n'),
      );
    });
  awsKey
    .command('create')
    .description('create a native KMS key of any spec (symmetric, RSA, ECC, HMAC)')
    .requiredOption('--connection <name>', 'AWS connection')
    .option('--region <region>', "the Region (default: the connection's)")
    .option('--spec <spec>', 'SYMMETRIC_DEFAULT, RSA_2048|3072|4096, ECC_NIST_P256|P384|P521, ECC_SECG_P256K1, HMAC_224|256|384|512', 'SYMMETRIC_DEFAULT')
    .option('--usage <usage>', 'ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC or KEY_AGREEMENT (default: what the spec allows first)')
    .option('--alias <alias...>', 'aliases alias/NAME (repeatable)')
    .option('--tag <key=value...>', 'tags (repeatable)')
    .option('--description <text>', 'description')
    .option('--multi-region', 'a multi-Region primary key')
    .action(async (opts: { connection: string; region?: string; spec: string; usage?: string; alias?: string[]; tag?: string[]; description?: string; multiRegion?: boolean }, cmd: Command) => {
      const g = globalsOf(cmd);
      const tags = lifecycleFromOptions({ tag: opts.tag }).tags;
      const k = await host.withServices(g, (s) =>
        s.awsKeys.createNative({ connection: opts.connection, region: opts.region, keySpec: opts.spec, keyUsage: opts.usage, aliases: opts.alias, tags, description: opts.description, multiRegion: opts.multiRegion }),
      );
      printer(!!g.json).result(k, () => `Created ${k.keySpec} ${k.keyUsage} key ${k.arn}${k.aliases.length ? ` (${k.aliases.join(', ')})` : ''}.`);
    });
  const simple: [string, string, (s: ManagementServices, ref: string) => Promise<AwsKeyRecord>][] = [
    ['enable', 'enable the key in AWS', (s, r) => s.awsKeys.enable(r)],
    ['disable', 'disable the key in AWS: every use fails until it is enabled', (s, r) => s.awsKeys.disable(r)],
    ['cancel-deletion', 'cancel a scheduled deletion (the key comes back disabled)', (s, r) => s.awsKeys.cancelDeletion(r)],
  ];
  for (const [verb, what, fn] of simple) {
    awsKey
      .command(`${verb} <key>`)
      .description(what)
      .action(async (ref: string, _o: unknown, cmd: Command) => {
        const g = globalsOf(cmd);
        const k = await host.withServices(g, (s) => fn(s, ref));
        printer(!!g.json).result(k, () => `${k.arn}: ${k.state}.`);
      });
  }
  awsKey
    .command('schedule-deletion <key>')
    .description('delete the key in AWS after 7-30 days (default 30); cancel-deletion undoes it')
    .option('--days <n>', 'waiting period', '30')
    .action(async (ref: string, opts: { days: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      const days = Number(opts.days);
      if (!Number.isInteger(days)) throw new UsageError(`--days '${opts.days}' must be a whole number`);
      const k = await host.withServices(g, (s) => s.awsKeys.scheduleDeletion(ref, days));
      printer(!!g.json).result(k, () => `${k.arn} will be deleted by AWS on ${k.deletionDate ?? '?'}.`);
    });
  awsKey
    .command('tag <key>')
    .description('set and remove tags')
    .option('--set <key=value...>', 'tags to add or overwrite')
    .option('--remove <key...>', 'tag keys to remove')
    .action(async (ref: string, opts: { set?: string[]; remove?: string[] }, cmd: Command) => {
      const g = globalsOf(cmd);
      const set = lifecycleFromOptions({ tag: opts.set }).tags ?? {};
      if (!Object.keys(set).length && !opts.remove?.length) throw new UsageError('give --set or --remove');
      const k = await host.withServices(g, (s) => s.awsKeys.setTags(ref, set, opts.remove ?? []));
      printer(!!g.json).result(k, () => `${k.arn} tags: ${Object.entries(k.tags).map(([a, b]) => `${a}=${b}`).join(', ') || 'none'}.`);
    });
  const alias = awsKey.command('alias').description('aliases of an AWS key');
  alias
    .command('add <key> <alias>')
    .description('add an alias (an alias of another key in the Region moves here)')
    .action(async (ref: string, name: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const k = await host.withServices(g, (s) => s.awsKeys.addAlias(ref, name));
      printer(!!g.json).result(k, () => `${k.arn} aliases: ${k.aliases.join(', ')}.`);
    });
  alias
    .command('remove <key> <alias>')
    .description('remove an alias')
    .action(async (ref: string, name: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const k = await host.withServices(g, (s) => s.awsKeys.removeAlias(ref, name));
      printer(!!g.json).result(k, () => `${k.arn} aliases: ${k.aliases.join(', ') || 'none'}.`);
    });
  const policy = awsKey.command('policy').description('the key policy');
  policy
    .command('get <key>')
    .description('print the key policy (as last read from AWS)')
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const r = await host.withServices(g, (s) => s.awsKeys.show(ref));
      printer(!!g.json).result({ arn: r.key.arn, policy: r.key.policy }, () => r.key.policy ?? '(not readable)');
    });
  policy
    .command('put <key>')
    .description('replace the key policy: validated as JSON, the change shown first; --yes applies it')
    .requiredOption('--file <path>', 'the policy document')
    .option('--yes', 'apply (without it, only the diff is shown)')
    .action(async (ref: string, opts: { file: string; yes?: boolean }, cmd: Command) => {
      const g = globalsOf(cmd);
      let text: string;
      try {
        text = readFileSync(opts.file, 'utf8');
      } catch (e) {
        throw new UsageError(`cannot read ${opts.file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      const out = await host.withServices(g, async (s) => {
        const d = await s.awsKeys.policyDiff(ref, text);
        if (!opts.yes) return { applied: false, diff: d.diff };
        const k = await s.awsKeys.putPolicy(ref, text);
        return { applied: true, diff: d.diff, arn: k.arn };
      });
      printer(!!g.json).result(out, () => [...out.diff, '', out.applied ? 'Policy put.' : 'Not applied: run again with --yes to put this policy.'].join('\n'));
    });
  awsKey
    .command('rotation <key>')
    .description('automatic rotation in KMS (symmetric keys with KMS-made material)')
    .option('--on', 'turn it on')
    .option('--off', 'turn it off')
    .option('--period-days <n>', 'rotation period, 90-2560 days')
    .action(async (ref: string, opts: { on?: boolean; off?: boolean; periodDays?: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      if (!!opts.on === !!opts.off) throw new UsageError('give --on or --off');
      const days = opts.periodDays === undefined ? undefined : Number(opts.periodDays);
      const k = await host.withServices(g, (s) => s.awsKeys.setRotation(ref, !!opts.on, days));
      printer(!!g.json).result(k, () => `${k.arn} rotation: ${k.rotation?.enabled ? `every ${k.rotation.periodDays ?? '?'} days` : 'off'}.`);
    });
  awsKey
    .command('rotate <key>')
    .description('a new native key with the same spec, tags and policy (or, with --to-local, a new imported key holding a local key\'s material); the aliases move to it; the old key keeps decrypting')
    .option('--to-local <localKey>', 'rotate to a key Keyhold owns: a new EXTERNAL-origin key with this exportable local key\'s material, recorded as a link')
    .option('--valid-to <iso>', 'with --to-local: the material expires then in AWS (default: it does not expire)')
    .option('--disable-old', 'disable the old key afterwards')
    .action(async (ref: string, opts: { toLocal?: string; validTo?: string; disableOld?: boolean }, cmd: Command) => {
      const g = globalsOf(cmd);
      if (opts.toLocal === undefined) {
        if (opts.validTo !== undefined) throw new UsageError('--valid-to goes with --to-local (a native key has no imported material)');
        const r = await host.withServices(g, (s) => s.awsKeys.rotateNative(ref, { disableOld: !!opts.disableOld }));
        printer(!!g.json).result(r, () => `Rotated ${r.old.arn} -> ${r.new.arn}; aliases moved: ${r.movedAliases.join(', ') || 'none'}; the old key is ${r.old.state}.`);
        return;
      }
      const localKey = opts.toLocal;
      const r = await host.withServices(g, (s) => s.awsKeys.rotateToLocal(ref, localKey, { validTo: opts.validTo, disableOld: !!opts.disableOld }));
      printer(!!g.json).result(r, () =>
        [
          `Rotated ${r.old.arn} -> ${r.new.arn}, which holds key '${r.localKey}' version ${r.localVersion} (${r.link.expirationModel}${r.link.validTo ? ` until ${r.link.validTo}` : ''}).`,
          `Aliases moved: ${r.movedAliases.join(', ') || 'none'}; the old key is ${r.old.state}.`,
        ].join('\n'),
      );
    });
  awsKey
    .command('delete-material <key>')
    .description('delete the imported material of an EXTERNAL-origin key now (DeleteImportedKeyMaterial): the key is PendingImport and unusable until reimport')
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const k = await host.withServices(g, (s) => s.awsKeys.deleteImportedMaterial(ref));
      printer(!!g.json).result(k, () => `${k.arn}: ${k.state}; keyhold aws key reimport ${ref} brings the material back.`);
    });
  awsKey
    .command('reimport <key>')
    .description('import again the local key version recorded on the key\'s link (the same material, as KMS requires), e.g. after delete-material or expiry')
    .option('--valid-to <iso>', "the material expires then (default: the link's expiry while it is in the future, else it does not expire)")
    .action(async (ref: string, opts: { validTo?: string }, cmd: Command) => {
      const g = globalsOf(cmd);
      const r = await host.withServices(g, (s) => s.awsKeys.reimport(ref, { validTo: opts.validTo }));
      printer(!!g.json).result(r, () => `${r.key.arn}: key '${r.localKey}' version ${r.localVersion} imported again; ${r.key.state} (${r.link.expirationModel}${r.link.validTo ? ` until ${r.link.validTo}` : ''}).`);
    });
  awsKey
    .command('forget <key>')
    .description("drop Keyhold's record of a key AWS deleted (or is deleting); nothing changes in AWS")
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const r = await host.withServices(g, (s) => s.awsKeys.forget(ref));
      printer(!!g.json).result(r, () => `Forgot ${r.forgotten}.`);
    });
  key
    .command('links <keyId>')
    .description("where a local key's material went in AWS: copies, and XKS keys backed by it")
    .action(async (keyId: string, _o: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const r = await host.withServices(g, (s) => s.awsKeys.links(keyId));
      const rows = [
        ...r.copies.map((c) => ({ kind: 'copy', arn: c.awsKeyArn, region: c.region, version: c.localVersion, copiedBy: c.copiedBy, copiedAt: c.copiedAt, state: c.awsKey?.state ?? '?', superseded: c.superseded ? `by ${c.superseded.by} (${c.superseded.at})` : '-' })),
        ...r.xksKeys.map((x) => ({ kind: 'xks', arn: x.arn, region: x.region, version: null, copiedBy: null, copiedAt: null, state: x.state, superseded: '-' })),
      ];
      printer(!!g.json).result(r, () => (rows.length ? table(rows, ['kind', 'arn', 'region', 'version', 'copiedBy', 'copiedAt', 'state', 'superseded']) : `Key '${keyId}' has no links to AWS.`));
    });
}

/** `keyhold key rotate LOCAL --linked`. Exit code 1 when any link failed. */
export async function rotateLinkedCommand(host: CliHost, g: GlobalOptions, keyId: string, strategy: 'auto' | 'in-place' | 'new-key'): Promise<void> {
  const r = await host.withServices(g, (s) => s.awsKeys.rotateLinked(keyId, { strategy }));
  printer(!!g.json).result(r, () =>
    [`Key '${keyId}' rotated to version ${r.version}; AWS keys:`, ...r.links.map((l) => `  ${l.awsKeyArn}: ${l.error ? `FAILED: ${l.error}` : l.strategy === 'in-place' ? 'new material imported and rotated in place' : `new key ${l.newArn ?? '?'} with the aliases moved`}`)].join('\n'),
  );
  if (r.links.some((l) => l.error !== null)) process.exitCode = 1;
}
