import { fail } from '../base/index.js';
import type { ManagementServices } from '../cli/host.js';
import type { AppContext } from './context.js';
import { managementServices } from './management.js';
import { cliActor } from './audit.js';

function needsServer(what: string): never {
  fail('Unsupported', `${what} needs a signed-in admin: use --server URL with a token (keyhold login)`);
}

/**
 * The CLI's services on the local database (operator with the data directory and seal:
 * the break-glass path). Reads and key management work directly; deciding approvals and
 * anything about "my" session need an identity, so they go through --server.
 */
export function localServices(ctx: AppContext): Omit<ManagementServices, 'audit'> {
  return {
    ...managementServices(ctx),
    admins: ctx.identity,
    approvals: {
      list: (filter) => ctx.approvals.list(filter),
      get: (id) => ctx.approvals.get(id),
      approve: () => needsServer('approving a request'),
      deny: () => needsServer('denying a request'),
      cancel: () => needsServer('cancelling a request'),
      collect: () => needsServer('collecting a result'),
      listRules: () => ctx.approvals.listRules(),
      setRule: () => needsServer('changing approval rules'),
      clearRule: () => needsServer('changing approval rules'),
    },
    aws: { connections: ctx.awsConnections, xks: ctx.awsXks },
    awsKeys: {
      ...ctx.awsKeys,
      importLocal: (input) => ctx.awsKeys.importLocal({ ...input, actor: cliActor().actor }),
      rotateLinked: (localKey, opts) => ctx.awsKeys.rotateLinked(localKey, { ...opts, actor: cliActor().actor }),
      rotateToLocal: (ref, localKey, opts) => ctx.awsKeys.rotateToLocal(ref, localKey, { ...opts, actor: cliActor().actor }),
      reimport: (ref, opts) => ctx.awsKeys.reimport(ref, { ...opts, actor: cliActor().actor }),
    },
    session: {
      whoami: () => needsServer('whoami'),
      logout: () => needsServer('logout'),
      changePassword: () => needsServer('changing your password'),
      createApiKey: () => needsServer('creating an API key'),
      listApiKeys: () => needsServer('listing API keys'),
      revokeApiKey: () => needsServer('revoking an API key'),
    },
  };
}
