/**
 * Custom key stores of type EXTERNAL_KEY_STORE (kms-semantics §2.3, §1.6): the six API
 * operations, the connection state machine, the health probe at create, update and connect,
 * and the periodic KmsHealthCheck.
 */
import { z } from 'zod';
import { kmsError } from './errors.js';
import { op, wireTime, type Call, type Operation, type SimServices } from './context.js';
import { newCustomKeyStoreId } from './key-resolution.js';
import { paginate, pageFields } from './pagination.js';
import { connectionErrorCode, keyStoreSettingsError, type HealthFailure } from './proxy-outcomes.js';
import { proxyTarget } from './proxy-calls.js';
import { int, oneOf, str } from './schemas.js';
import type { CustomKeyStore, RegionState, XksConnectivity } from './model.js';
import type { RequestLogEntry } from './request-log.js';
import type { ProxyCall } from './xks-proxy.js';

export const MAX_CUSTOM_KEY_STORES = 10;

/**
 * KMS: `^https://[a-zA-Z0-9.-]+$`. The simulator's one documented relaxation: an explicit
 * port is allowed, so a proxy on https://localhost:8443 can be used.
 */
const URI_ENDPOINT_RE = /^https:\/\/[a-zA-Z0-9.-]+(?::\d{1,5})?$/;
const URI_PATH_RE = /^(\/[a-zA-Z0-9/_-]+\/kms\/xks\/v\d{1,2})$|^(\/kms\/xks\/v\d{1,2})$/;
const VPC_SERVICE_RE = /^(com|eu)\.amazonaws\.vpce\.([a-z]+-){2,3}\d+\.vpce-svc-[0-9a-z]+$/;

const credential = z.object({
  AccessKeyId: str(20, 30, /^[A-Z2-7]+$/),
  RawSecretAccessKey: str(43, 64, /^[a-zA-Z0-9/+=]+$/),
});

const xksSettings = {
  XksProxyUriEndpoint: str(10, 128, URI_ENDPOINT_RE).optional(),
  XksProxyUriPath: str(10, 128, URI_PATH_RE).optional(),
  XksProxyVpcEndpointServiceName: str(20, 64, VPC_SERVICE_RE).optional(),
  XksProxyVpcEndpointServiceOwner: str(12, 12, /^\d{12}$/).optional(),
  XksProxyAuthenticationCredential: credential.optional(),
  XksProxyConnectivity: oneOf(['PUBLIC_ENDPOINT', 'VPC_ENDPOINT_SERVICE']).optional(),
};

const storeId = str(1, 64);

function findStore(rs: RegionState, id: string): CustomKeyStore {
  const s = rs.stores.get(id);
  if (!s) throw kmsError('CustomKeyStoreNotFoundException', `Custom key store ${id} does not exist.`);
  return s;
}

export function requireStore(call: Call, id: string): CustomKeyStore {
  return findStore(call.rs, id);
}

interface ProxySettings {
  connectivity: XksConnectivity;
  uriEndpoint: string;
  uriPath: string;
  vpcEndpointServiceName: string | undefined;
}

/** Store-level uniqueness rules (kms-semantics §1.5, "KMS-side checks"). */
function checkUniqueness(rs: RegionState, s: ProxySettings, selfId: string | undefined): void {
  for (const other of rs.stores.values()) {
    if (other.id === selfId) continue;
    if (other.uriEndpoint === s.uriEndpoint && other.uriPath === s.uriPath) {
      throw kmsError('XksProxyUriInUseException', `The proxy URI endpoint and path ${s.uriEndpoint}${s.uriPath} are already used by custom key store ${other.id}.`);
    }
    if (other.uriEndpoint === s.uriEndpoint && other.connectivity !== s.connectivity) {
      throw kmsError('XksProxyUriEndpointInUseException', `The proxy URI endpoint ${s.uriEndpoint} is already used by custom key store ${other.id} with a different connectivity.`);
    }
    if (s.vpcEndpointServiceName !== undefined && other.vpcEndpointServiceName === s.vpcEndpointServiceName) {
      throw kmsError('XksProxyVpcEndpointServiceInUseException', `The VPC endpoint service ${s.vpcEndpointServiceName} is already used by custom key store ${other.id}.`);
    }
  }
}

function checkConnectivity(s: ProxySettings): void {
  if (s.connectivity === 'VPC_ENDPOINT_SERVICE' && s.vpcEndpointServiceName === undefined) {
    throw kmsError('ValidationException', 'XksProxyVpcEndpointServiceName is required when XksProxyConnectivity is VPC_ENDPOINT_SERVICE.');
  }
  if (s.connectivity === 'PUBLIC_ENDPOINT' && s.vpcEndpointServiceName !== undefined) {
    throw kmsError('ValidationException', 'XksProxyVpcEndpointServiceName is valid only when XksProxyConnectivity is VPC_ENDPOINT_SERVICE.');
  }
}

/** GetHealthStatus against a store's settings; undefined when the proxy can serve. */
export async function probeHealth(sim: SimServices, store: CustomKeyStore, kmsOperation: string, kmsRequestId: string, entry: RequestLogEntry): Promise<HealthFailure | undefined> {
  const call: ProxyCall = {
    target: proxyTarget(sim, store),
    customKeyStoreId: store.id,
    metadata: { kmsOperation, kmsRequestId },
    record: (r) => entry.proxyCalls.push(r),
  };
  const r = await sim.proxy.health(call);
  if (!r.ok) return r.failure;
  if (!r.value.ekmFleetDetails.some((d) => d.healthStatus !== 'UNAVAILABLE')) return { kind: 'all-unavailable' };
  return undefined;
}

function describe(s: CustomKeyStore): Record<string, unknown> {
  return {
    CustomKeyStoreId: s.id,
    CustomKeyStoreName: s.name,
    CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
    ConnectionState: s.state,
    ...(s.state === 'FAILED' && s.errorCode ? { ConnectionErrorCode: s.errorCode } : {}),
    CreationDate: wireTime(s.createdAt),
    XksProxyConfiguration: {
      Connectivity: s.connectivity,
      AccessKeyId: s.accessKeyId,
      UriEndpoint: s.uriEndpoint,
      UriPath: s.uriPath,
      ...(s.vpcEndpointServiceName !== undefined ? { VpcEndpointServiceName: s.vpcEndpointServiceName } : {}),
      ...(s.vpcEndpointServiceOwner !== undefined ? { VpcEndpointServiceOwner: s.vpcEndpointServiceOwner } : {}),
    },
  };
}

const createCustomKeyStore = op(
  z.object({
    CustomKeyStoreName: str(1, 256),
    CustomKeyStoreType: oneOf(['AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE']).optional(),
    CloudHsmClusterId: str(19, 24).optional(),
    TrustAnchorCertificate: str(1, 5000).optional(),
    KeyStorePassword: str(7, 32).optional(),
    ...xksSettings,
  }),
  async (call, input) => {
    if ((input.CustomKeyStoreType ?? 'AWS_CLOUDHSM') !== 'EXTERNAL_KEY_STORE') {
      throw kmsError('UnsupportedOperationException', 'This KMS simulator supports only custom key stores of type EXTERNAL_KEY_STORE.');
    }
    if (input.CloudHsmClusterId !== undefined || input.TrustAnchorCertificate !== undefined || input.KeyStorePassword !== undefined) {
      throw kmsError('ValidationException', 'CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword are valid only for AWS_CLOUDHSM key stores.');
    }
    const missing = (['XksProxyConnectivity', 'XksProxyUriEndpoint', 'XksProxyUriPath', 'XksProxyAuthenticationCredential'] as const).filter((k) => input[k] === undefined);
    if (missing.length > 0) throw kmsError('ValidationException', `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} required for an EXTERNAL_KEY_STORE custom key store.`);
    const settings: ProxySettings = {
      connectivity: input.XksProxyConnectivity!,
      uriEndpoint: input.XksProxyUriEndpoint!,
      uriPath: input.XksProxyUriPath!,
      vpcEndpointServiceName: input.XksProxyVpcEndpointServiceName,
    };
    checkConnectivity(settings);
    const rs = call.rs;
    for (const s of rs.stores.values()) {
      if (s.name === input.CustomKeyStoreName) throw kmsError('CustomKeyStoreNameInUseException', `A custom key store named ${input.CustomKeyStoreName} already exists.`);
    }
    if (rs.stores.size >= MAX_CUSTOM_KEY_STORES) throw kmsError('LimitExceededException', `An account can have at most ${MAX_CUSTOM_KEY_STORES} custom key stores in a Region.`);
    checkUniqueness(rs, settings, undefined);

    const cred = input.XksProxyAuthenticationCredential!;
    const store: CustomKeyStore = {
      id: newCustomKeyStoreId(),
      name: input.CustomKeyStoreName,
      accountId: rs.accountId,
      region: rs.region,
      createdAt: call.sim.clock.now(),
      ...settings,
      accessKeyId: cred.AccessKeyId,
      sealedSecret: call.sim.secrets.seal(cred.RawSecretAccessKey),
      vpcEndpointServiceOwner: input.XksProxyVpcEndpointServiceOwner,
      state: 'DISCONNECTED',
      errorCode: undefined,
      generation: 0,
    };
    call.entry.customKeyStoreId = store.id;
    // KMS tests a public endpoint before saving the store; a VPC store is first tested at connect.
    if (store.connectivity === 'PUBLIC_ENDPOINT') {
      const failure = await probeHealth(call.sim, store, 'CreateCustomKeyStore', call.requestId, call.entry);
      if (failure) throw keyStoreSettingsError(failure);
      // Re-check what may have changed while the probe ran.
      for (const s of rs.stores.values()) {
        if (s.name === store.name) throw kmsError('CustomKeyStoreNameInUseException', `A custom key store named ${store.name} already exists.`);
      }
      if (rs.stores.size >= MAX_CUSTOM_KEY_STORES) throw kmsError('LimitExceededException', `An account can have at most ${MAX_CUSTOM_KEY_STORES} custom key stores in a Region.`);
      checkUniqueness(rs, settings, undefined);
    }
    rs.stores.set(store.id, store);
    return { CustomKeyStoreId: store.id };
  },
);

const describeCustomKeyStores = op(
  z.object({
    CustomKeyStoreId: storeId.optional(),
    CustomKeyStoreName: str(1, 256).optional(),
    Limit: int(1, 1000).optional(),
    Marker: str(1, 1024, /^[\u0020-\u00FF]*$/).optional(),
  }),
  async (call, input) => {
    if (input.CustomKeyStoreId !== undefined && input.CustomKeyStoreName !== undefined) {
      throw kmsError('ValidationException', 'Specify either CustomKeyStoreId or CustomKeyStoreName, not both.');
    }
    let stores = [...call.rs.stores.values()];
    if (input.CustomKeyStoreId !== undefined) stores = [findStore(call.rs, input.CustomKeyStoreId)];
    if (input.CustomKeyStoreName !== undefined) {
      stores = stores.filter((s) => s.name === input.CustomKeyStoreName);
      if (stores.length === 0) throw kmsError('CustomKeyStoreNotFoundException', `Custom key store ${input.CustomKeyStoreName} does not exist.`);
    }
    const page = paginate(stores, (s) => s.id, input.Limit ?? 1000, input.Marker);
    return { CustomKeyStores: page.items.map(describe), ...pageFields(page) };
  },
);

const updateCustomKeyStore = op(
  z.object({
    CustomKeyStoreId: storeId,
    NewCustomKeyStoreName: str(1, 256).optional(),
    KeyStorePassword: str(7, 32).optional(),
    CloudHsmClusterId: str(19, 24).optional(),
    ...xksSettings,
  }),
  async (call, input) => {
    const rs = call.rs;
    const store = findStore(rs, input.CustomKeyStoreId);
    call.entry.customKeyStoreId = store.id;
    if (input.KeyStorePassword !== undefined || input.CloudHsmClusterId !== undefined) {
      throw kmsError('ValidationException', 'KeyStorePassword and CloudHsmClusterId are valid only for AWS_CLOUDHSM key stores.');
    }
    const next: ProxySettings = {
      connectivity: input.XksProxyConnectivity ?? store.connectivity,
      uriEndpoint: input.XksProxyUriEndpoint ?? store.uriEndpoint,
      uriPath: input.XksProxyUriPath ?? store.uriPath,
      vpcEndpointServiceName:
        input.XksProxyVpcEndpointServiceName ?? (input.XksProxyConnectivity === 'PUBLIC_ENDPOINT' ? undefined : store.vpcEndpointServiceName),
    };
    const endpointChange =
      next.connectivity !== store.connectivity ||
      next.uriEndpoint !== store.uriEndpoint ||
      next.vpcEndpointServiceName !== store.vpcEndpointServiceName ||
      (input.XksProxyVpcEndpointServiceOwner !== undefined && input.XksProxyVpcEndpointServiceOwner !== store.vpcEndpointServiceOwner);
    // Endpoint, connectivity and VPC service need a disconnected store; name, path and
    // credential may change while connected (the operation text, kms-semantics §1.6).
    if (endpointChange && store.state !== 'DISCONNECTED') {
      throw kmsError('CustomKeyStoreInvalidStateException', `Disconnect custom key store ${store.id} before changing its proxy endpoint, connectivity or VPC endpoint service.`);
    }
    if (store.state === 'CONNECTING' || store.state === 'DISCONNECTING') {
      throw kmsError('CustomKeyStoreInvalidStateException', `Custom key store ${store.id} is ${store.state}; try again when it is connected or disconnected.`);
    }
    checkConnectivity(next);
    if (input.NewCustomKeyStoreName !== undefined && input.NewCustomKeyStoreName !== store.name) {
      for (const s of rs.stores.values()) {
        if (s.name === input.NewCustomKeyStoreName) throw kmsError('CustomKeyStoreNameInUseException', `A custom key store named ${input.NewCustomKeyStoreName} already exists.`);
      }
    }
    checkUniqueness(rs, next, store.id);

    const cred = input.XksProxyAuthenticationCredential;
    const candidate: CustomKeyStore = {
      ...store,
      ...next,
      vpcEndpointServiceOwner: next.connectivity === 'PUBLIC_ENDPOINT' ? undefined : (input.XksProxyVpcEndpointServiceOwner ?? store.vpcEndpointServiceOwner),
      accessKeyId: cred?.AccessKeyId ?? store.accessKeyId,
      sealedSecret: cred ? call.sim.secrets.seal(cred.RawSecretAccessKey) : store.sealedSecret,
    };
    const proxyChange = endpointChange || next.uriPath !== store.uriPath || cred !== undefined;
    // New settings are tested before they are saved, whenever the proxy can be reached.
    if (proxyChange && (candidate.connectivity === 'PUBLIC_ENDPOINT' || store.state === 'CONNECTED')) {
      const failure = await probeHealth(call.sim, candidate, 'UpdateCustomKeyStore', call.requestId, call.entry);
      if (failure) throw keyStoreSettingsError(failure);
    }
    if (!rs.stores.has(store.id)) throw kmsError('CustomKeyStoreNotFoundException', `Custom key store ${store.id} does not exist.`);
    Object.assign(store, {
      name: input.NewCustomKeyStoreName ?? store.name,
      connectivity: candidate.connectivity,
      uriEndpoint: candidate.uriEndpoint,
      uriPath: candidate.uriPath,
      vpcEndpointServiceName: candidate.vpcEndpointServiceName,
      vpcEndpointServiceOwner: candidate.vpcEndpointServiceOwner,
      accessKeyId: candidate.accessKeyId,
      sealedSecret: candidate.sealedSecret,
    });
    return {};
  },
);

const connectCustomKeyStore = op(z.object({ CustomKeyStoreId: storeId }), async (call, input) => {
  const store = findStore(call.rs, input.CustomKeyStoreId);
  call.entry.customKeyStoreId = store.id;
  if (store.state === 'FAILED') {
    throw kmsError('CustomKeyStoreInvalidStateException', `Custom key store ${store.id} is FAILED (${store.errorCode ?? 'unknown error'}). Disconnect it before you connect it again.`);
  }
  if (store.state === 'DISCONNECTING') throw kmsError('CustomKeyStoreInvalidStateException', `Custom key store ${store.id} is disconnecting.`);
  if (store.state !== 'DISCONNECTED') return {};
  store.state = 'CONNECTING';
  store.errorCode = undefined;
  const generation = ++store.generation;
  const { sim, requestId, entry } = call;
  // Asynchronous, like KMS: the call returns at once, the probe runs after the delay.
  sim.background(async () => {
    if (store.generation !== generation || store.state !== 'CONNECTING') return;
    const failure = await probeHealth(sim, store, 'ConnectCustomKeyStore', requestId, entry);
    if (store.generation !== generation || store.state !== 'CONNECTING') return;
    if (failure) {
      store.state = 'FAILED';
      store.errorCode = connectionErrorCode(failure);
    } else store.state = 'CONNECTED';
  }, sim.settings.connectDelayMs);
  return {};
});

const disconnectCustomKeyStore = op(z.object({ CustomKeyStoreId: storeId }), async (call, input) => {
  const store = findStore(call.rs, input.CustomKeyStoreId);
  call.entry.customKeyStoreId = store.id;
  if (store.state === 'DISCONNECTED' || store.state === 'DISCONNECTING') {
    throw kmsError('CustomKeyStoreInvalidStateException', `Custom key store ${store.id} is already ${store.state}.`);
  }
  store.generation++;
  store.state = 'DISCONNECTED';
  store.errorCode = undefined;
  return {};
});

const deleteCustomKeyStore = op(z.object({ CustomKeyStoreId: storeId }), async (call, input) => {
  const rs = call.rs;
  const store = findStore(rs, input.CustomKeyStoreId);
  call.entry.customKeyStoreId = store.id;
  if (store.state !== 'DISCONNECTED') throw kmsError('CustomKeyStoreInvalidStateException', `Disconnect custom key store ${store.id} before you delete it.`);
  for (const k of rs.keys.values()) {
    if (k.customKeyStoreId === store.id) throw kmsError('CustomKeyStoreHasCMKsException', `Custom key store ${store.id} still has KMS keys. Delete them (the waiting period must end) first.`);
  }
  rs.stores.delete(store.id);
  return {};
});

export const customKeyStoreOperations: Record<string, Operation> = {
  CreateCustomKeyStore: createCustomKeyStore,
  DescribeCustomKeyStores: describeCustomKeyStores,
  UpdateCustomKeyStore: updateCustomKeyStore,
  ConnectCustomKeyStore: connectCustomKeyStore,
  DisconnectCustomKeyStore: disconnectCustomKeyStore,
  DeleteCustomKeyStore: deleteCustomKeyStore,
};

/**
 * One round of KMS's background probe: GetHealthStatus with kmsOperation KmsHealthCheck to
 * every CONNECTED store. The outcome is logged; like KMS, it does not change the state.
 */
export async function runHealthChecks(sim: SimServices): Promise<void> {
  const stores: CustomKeyStore[] = [];
  for (const rs of sim.allRegions()) for (const s of rs.stores.values()) if (s.state === 'CONNECTED') stores.push(s);
  await Promise.all(
    stores.map(async (store) => {
      const requestId = sim.newRequestId();
      const entry: RequestLogEntry = {
        requestId,
        eventTime: new Date(sim.clock.now()).toISOString(),
        eventName: 'KmsHealthCheck',
        accountId: store.accountId,
        region: store.region,
        principalArn: 'kms.amazonaws.com',
        customKeyStoreId: store.id,
        proxyCalls: [],
      };
      const failure = await probeHealth(sim, store, 'KmsHealthCheck', requestId, entry);
      if (failure) {
        entry.errorCode = connectionErrorCode(failure);
        entry.errorMessage = 'The periodic health check of the external key store proxy failed.';
      }
      sim.log.append(entry);
    }),
  );
}
