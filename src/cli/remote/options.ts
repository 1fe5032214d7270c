import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KeyholdError } from '../../base/index.js';
import type { GlobalOptions } from '../host.js';
import type { RemoteOptions } from './remote-services.js';

/**
 * --server, its token (--token-file or KEYHOLD_TOKEN) and trust (--ca-file, else the data
 * directory's certificate).
 */
export function remoteOptions(opts: GlobalOptions, needToken: boolean, env: NodeJS.ProcessEnv = process.env): RemoteOptions {
  let token = env.KEYHOLD_TOKEN || undefined;
  if (opts.tokenFile && existsSync(opts.tokenFile)) token = readFileSync(opts.tokenFile, 'utf8').split(/\r?\n/)[0]?.trim() || undefined;
  if (needToken && !token) throw new KeyholdError('AuthenticationFailed', 'no token: run keyhold --server URL login --username NAME, then set KEYHOLD_TOKEN or pass --token-file');
  const localCa = join(resolve(opts.dataDir ?? 'keyhold-data'), 'tls', 'server.crt');
  const caFile = opts.caFile ?? (existsSync(localCa) ? localCa : undefined);
  let ca: Buffer | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile);
    } catch (e) {
      throw new KeyholdError('ConfigInvalid', `cannot read --ca-file ${caFile}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { server: opts.server!, token, ca };
}
