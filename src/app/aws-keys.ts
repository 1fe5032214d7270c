/**
 * Wiring of the AWS key service (bring your own key): sessions on a connection's
 * credentials, unsealed only in memory, with the BYOK operations of src/aws.
 */
import { fail, type Clock } from '../base/index.js';
import { byokSessionOf, createAwsClients, type AwsProxySettings } from '../aws/index.js';
import { awsSecretSealContext, createAwsKeyService, type AwsConnectionRecord, type AwsKeyService, type KeyService, type Seal, type Storage } from '../domain/index.js';

export function createAppAwsKeys(deps: { storage: Storage; seal: Seal; keys: KeyService; clock: Clock; proxy: AwsProxySettings; backoffMs?: number; sleep?: (ms: number) => Promise<void> }): AwsKeyService {
  const { storage, seal } = deps;
  return createAwsKeyService({
    repo: storage,
    keys: deps.keys,
    clock: deps.clock,
    ...(deps.backoffMs !== undefined ? { backoffMs: deps.backoffMs } : {}),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    async open(name) {
      const rec = (await storage.getAwsConnection(name)) ?? fail('NotFound', `AWS connection '${name}' does not exist`);
      let secretAccessKey: string | null = null;
      if (rec.sealedSecret) {
        const buf = await seal.unseal(rec.sealedSecret, awsSecretSealContext(rec.id));
        secretAccessKey = buf.toString('utf8');
        buf.fill(0);
      }
      const { sealedSecret: _s, ...connection } = rec satisfies AwsConnectionRecord;
      return { connection, session: byokSessionOf(createAwsClients(connection, { secretAccessKey }, { proxy: deps.proxy })) };
    },
  });
}
