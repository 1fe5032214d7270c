import { openSync, closeSync, fstatSync, readSync, unlinkSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import { decodeBase64Strict } from '../base/index.js';
import { parseUsage } from '../domain/index.js';
import type { CliHost } from './host.js';
import { printer } from './output.js';
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
