import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Server } from 'node:https';

/**
 * Client-certificate verification inside the TLS handshake (mTLS). Node's TLS server checks
 * the client chain only after the handshake and then drops the socket, so a client with an
 * expired certificate or one from an unknown CA sees "broken pipe" or a reset instead of a
 * TLS alert. The addon in native/mtls-verify (built by `npm run build`) sets OpenSSL's chain
 * verification on the server's secure context so that a chain that does not verify fails
 * the handshake with the matching alert (unknown_ca, certificate_expired, ...). Node's own
 * check after the handshake (rejectUnauthorized) stays as a second line.
 */

interface Addon {
  enforce(handle: unknown): void;
}

let addon: Addon | string | undefined;

function load(): Addon | string {
  if (addon !== undefined) return addon;
  // dist/src/xks/ when compiled, src/xks/ when run from source: the package root is above.
  const candidates = ['../../../native/mtls-verify/build/Release/mtls_verify.node', '../../native/mtls-verify/build/Release/mtls_verify.node'].map((p) => new URL(p, import.meta.url));
  const found = candidates.find((u) => existsSync(u));
  if (!found) return (addon = 'the native addon native/mtls-verify is not built (npm run build builds it)');
  try {
    addon = createRequire(import.meta.url)(found.pathname) as Addon;
  } catch (e) {
    addon = `the native addon native/mtls-verify does not load: ${e instanceof Error ? e.message : String(e)}`;
  }
  return addon;
}

/**
 * Makes the server's current secure context verify client chains during the handshake.
 * Call it again after every setSecureContext (a new context). Returns why it could not.
 */
export function verifyClientsInHandshake(server: Server): string | undefined {
  const a = load();
  if (typeof a === 'string') return a;
  // tls.Server keeps its current context in _sharedCreds (replaced by setSecureContext).
  const handle = (server as unknown as { _sharedCreds?: { context?: { _external?: unknown } } })._sharedCreds?.context?._external;
  if (handle === undefined) return 'this Node.js does not expose the TLS server context';
  a.enforce(handle);
  return undefined;
}
