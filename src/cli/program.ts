import { Command, Option } from 'commander';
import { registerAdminCommands } from './admin-commands.js';
import { registerApprovalCommands } from './approval-commands.js';
import { registerAuditCommands } from './audit-commands.js';
import type { CliHost } from './host.js';
import { registerHsmCommands } from './hsm-commands.js';
import { registerImportCommands } from './import-commands.js';
import { registerKeyCommands } from './key-commands.js';
import { registerClusterCommands } from './cluster-commands.js';
import { registerTlsCommands } from './tls-commands.js';
import { registerKeyLifecycleCommands } from './key-lifecycle-commands.js';
import { registerKeyStoreCommands } from './keystore-commands.js';
import { registerServerCommands } from './server-commands.js';
import { registerAwsCommands } from './aws-commands.js';
import { registerAwsKeyCommands, registerByokCommands } from './byok-commands.js';
import { UsageError } from './shared.js';

export { UsageError };

const VERSION = '0.1.0';

/**
 * The `keyhold` command line: global options, then one register call per command group
 * (each group in its own src/cli/<group>-commands.ts). The order here is the order of `keyhold --help`.
 */
export function buildProgram(host: CliHost): Command {
  const program = new Command('keyhold')
    .description('Keyhold: an external key manager for AWS KMS (XKS proxy and key management)')
    .version(VERSION)
    .addOption(new Option('--data-dir <dir>', 'data directory').env('KEYHOLD_DATA_DIR').default('./keyhold-data'))
    .addOption(new Option('--config <file>', 'configuration file (default: <data-dir>/keyhold.toml)').env('KEYHOLD_CONFIG'))
    .option('--json', 'print results as JSON for scripts')
    .addOption(new Option('--server <url>', "manage a running server through its admin API (e.g. https://localhost:8444) instead of the local database").env('KEYHOLD_SERVER'))
    .addOption(new Option('--token-file <file>', 'file with the session token or API key for --server (default: $KEYHOLD_TOKEN)').env('KEYHOLD_TOKEN_FILE'))
    .addOption(new Option('--ca-file <file>', "PEM that trusts the server's certificate (default: <data-dir>/tls/server.crt when present)").env('KEYHOLD_CA_FILE'))
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true });

  registerServerCommands(program, host);
  registerKeyStoreCommands(program, host);
  const key = registerKeyCommands(program, host);
  registerKeyLifecycleCommands(key, host);
  registerByokCommands(program, key, host);
  registerAdminCommands(program, host);
  registerApprovalCommands(program, host);
  registerHsmCommands(program, host);
  registerImportCommands(program, host);
  registerClusterCommands(program, host);
  registerTlsCommands(program, host);
  registerAuditCommands(program, key, host);
  registerAwsCommands(program, host);
  registerAwsKeyCommands(program, key, host);
  return program;
}
