import { KeyholdError } from '../base/index.js';

/** Why a listener could not bind, in one line that names it, its address and the setting to change. */
export function listenFailure(listener: string, setting: string, host: string, port: number, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const at = `${host}:${port}`;
  const why =
    code === 'EADDRINUSE'
      ? 'the address is already in use (another keyhold or another program listens there)'
      : code === 'EACCES'
        ? 'permission denied (ports below 1024 need privileges)'
        : code === 'EADDRNOTAVAIL'
          ? 'this machine has no such address'
          : undefined;
  if (!why) return e;
  return new KeyholdError('Conflict', `the ${listener} listener cannot listen on ${at}: ${why}; choose another address with ${setting}`, { cause: e });
}

/** Runs one listener's listen(), turning a bind failure into that one line. */
export async function listenAs<T>(listener: string, setting: string, host: string, port: number, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (e) {
    throw listenFailure(listener, setting, host, port, e);
  }
}
