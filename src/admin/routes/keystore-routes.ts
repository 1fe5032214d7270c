import { z } from 'zod';
import type { CredentialInfo, KeyStore, ProxyConfigurationFile, SecondaryPolicy } from '../../domain/index.js';
import { defineRoute, type AdminRoute } from '../route.js';
import {
  credentialView,
  ERROR_RESPONSES,
  issuedCredentialView,
  keyStoreView,
  pendingApprovalView,
  policyView,
  proxyConfigView,
  toCredentialView,
  toKeyStoreView,
} from '../views.js';
import { EXEMPT, gated, nameParam } from './common.js';
import type { RouteDeps } from './deps.js';

const CUSTODIAN = ['custodian'] as const;
const READERS = ['custodian', 'auditor'] as const;
const storeParams = z.object({ name: nameParam });
const regions = z.array(z.string().min(1).max(32)).max(50);

/** Key stores, their SigV4 credentials and secondary authorization policies. */
export function keyStoreRoutes(deps: RouteDeps): AdminRoute[] {
  const { keyStores } = deps.services;
  return [
    defineRoute({
      id: 'keystores.list',
      method: 'GET',
      url: '/keystores',
      access: READERS,
      tag: 'keystores',
      summary: 'List key stores',
      responses: { 200: z.array(keyStoreView), ...ERROR_RESPONSES },
      async handle() {
        return (await keyStores.list()).map(toKeyStoreView);
      },
    }),
    defineRoute({
      id: 'keystores.create',
      method: 'POST',
      url: '/keystores',
      access: CUSTODIAN,
      approval: EXEMPT.adds,
      tag: 'keystores',
      summary: 'Create a key store; its first SigV4 credential is shown once',
      body: z.object({ name: nameParam, prefix: z.string().min(0).max(200), regions: regions.optional() }).strict(),
      responses: {
        200: z.object({ keyStore: keyStoreView, uriPath: z.string(), credential: issuedCredentialView.omit({ id: true }) }).meta({ id: 'CreatedKeyStore' }),
        ...ERROR_RESPONSES,
      },
      async handle({ body, audit }) {
        audit.target = body.name;
        const r = await keyStores.create({ name: body.name, prefix: body.prefix, regions: body.regions ?? [] });
        return { keyStore: toKeyStoreView(r.keyStore), uriPath: r.uriPath, credential: r.credential };
      },
    }),
    defineRoute({
      id: 'keystores.get',
      method: 'GET',
      url: '/keystores/:name',
      access: READERS,
      tag: 'keystores',
      summary: 'Show a key store (with its policy)',
      params: storeParams,
      responses: { 200: keyStoreView, ...ERROR_RESPONSES },
      async handle({ params }) {
        return toKeyStoreView(await keyStores.get(params.name));
      },
    }),
    defineRoute({
      id: 'keystores.delete',
      method: 'DELETE',
      url: '/keystores/:name',
      access: CUSTODIAN,
      approval: 'keystore.delete',
      tag: 'keystores',
      summary: 'Delete an empty key store and its credentials',
      params: storeParams,
      responses: { 200: z.object({ deleted: z.string() }), 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        return gated(deps, input, 'keystore.delete', { keyStore: input.params.name }, () => ({ deleted: input.params.name }));
      },
    }),
    defineRoute({
      id: 'keystores.enable',
      method: 'POST',
      url: '/keystores/:name/enable',
      access: CUSTODIAN,
      approval: EXEMPT.restores,
      tag: 'keystores',
      summary: 'Enable a key store',
      params: storeParams,
      responses: { 200: keyStoreView, ...ERROR_RESPONSES },
      async handle({ params }) {
        return toKeyStoreView(await keyStores.setEnabled(params.name, true));
      },
    }),
    defineRoute({
      id: 'keystores.disable',
      method: 'POST',
      url: '/keystores/:name/disable',
      access: CUSTODIAN,
      approval: 'keystore.disable',
      tag: 'keystores',
      summary: 'Disable a key store: every key in it answers InvalidStateException',
      params: storeParams,
      responses: { 200: keyStoreView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        return gated(deps, input, 'keystore.disable', { keyStore: input.params.name }, (r) => toKeyStoreView(r as KeyStore));
      },
    }),
    defineRoute({
      id: 'keystores.set-regions',
      method: 'PUT',
      url: '/keystores/:name/regions',
      access: CUSTODIAN,
      approval: { rules: ['keystore.disable'], when: 'a Region that could call the store before can no longer call it (every key of the store stops serving it)' },
      tag: 'keystores',
      summary: 'Set the AWS Regions whose KMS may call this key store (empty: any)',
      params: storeParams,
      body: z.object({ regions }).strict(),
      responses: { 200: keyStoreView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        return gated(deps, input, 'keystore.set-regions', { keyStore: input.params.name, regions: input.body.regions }, (r) => toKeyStoreView(r as KeyStore));
      },
    }),
    defineRoute({
      id: 'keystores.set-quota',
      method: 'PUT',
      url: '/keystores/:name/quota',
      access: CUSTODIAN,
      approval: { rules: ['keystore.disable'], when: 'a quota is set where there was none, or its rate or burst is lowered (calls that passed are throttled)' },
      tag: 'keystores',
      summary: 'Set the XKS request-rate quota (rps average, burst at once); over it calls get ThrottlingException',
      params: storeParams,
      body: z.object({ rps: z.number().int(), burst: z.number().int().optional() }).strict(),
      responses: { 200: keyStoreView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        const quota = { rps: input.body.rps, ...(input.body.burst !== undefined ? { burst: input.body.burst } : {}) };
        return gated(deps, input, 'keystore.set-quota', { keyStore: input.params.name, quota }, (r) => toKeyStoreView(r as KeyStore));
      },
    }),
    defineRoute({
      id: 'keystores.clear-quota',
      method: 'DELETE',
      url: '/keystores/:name/quota',
      access: CUSTODIAN,
      approval: { exempt: 'removes throttling; it stops or narrows nothing' },
      tag: 'keystores',
      summary: 'Remove the XKS request-rate quota',
      params: storeParams,
      responses: { 200: keyStoreView, ...ERROR_RESPONSES },
      async handle({ params }) {
        return toKeyStoreView(await keyStores.setQuota(params.name, null));
      },
    }),
    defineRoute({
      id: 'keystores.credentials.list',
      method: 'GET',
      url: '/keystores/:name/credentials',
      access: READERS,
      tag: 'keystores',
      summary: 'List SigV4 credentials (never their secrets)',
      params: storeParams,
      responses: { 200: z.array(credentialView), ...ERROR_RESPONSES },
      async handle({ params }) {
        return (await keyStores.listCredentials(params.name)).map(toCredentialView);
      },
    }),
    defineRoute({
      id: 'keystores.credentials.add',
      method: 'POST',
      url: '/keystores/:name/credentials',
      access: CUSTODIAN,
      approval: 'credential.add',
      tag: 'keystores',
      summary: 'Add a SigV4 credential (at most two live); the secret is shown once',
      description: 'Under an approval rule the secret is sealed until the requester collects it once (POST /approvals/{id}/collect).',
      params: storeParams,
      responses: { 200: issuedCredentialView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        return gated(deps, input, 'credential.add', { keyStore: input.params.name }, (r) => r as z.output<typeof issuedCredentialView>);
      },
    }),
    defineRoute({
      id: 'keystores.credentials.revoke',
      method: 'DELETE',
      url: '/keystores/:name/credentials/:accessKeyId',
      access: CUSTODIAN,
      approval: 'credential.revoke',
      tag: 'keystores',
      summary: 'Revoke a credential; requests signed with it fail from now on',
      params: z.object({ name: nameParam, accessKeyId: z.string().min(1).max(64) }),
      responses: { 200: credentialView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        return gated(deps, input, 'credential.revoke', { keyStore: input.params.name, accessKeyId: input.params.accessKeyId }, (r) => toCredentialView(r as CredentialInfo));
      },
    }),
    defineRoute({
      id: 'keystores.policy.get',
      method: 'GET',
      url: '/keystores/:name/policy',
      access: READERS,
      tag: 'keystores',
      summary: 'The secondary authorization policy (null: every authenticated call is allowed)',
      params: storeParams,
      responses: { 200: z.object({ policy: policyView.nullable() }), ...ERROR_RESPONSES },
      async handle({ params }) {
        return { policy: (await keyStores.get(params.name)).policy };
      },
    }),
    defineRoute({
      id: 'keystores.policy.set',
      method: 'PUT',
      url: '/keystores/:name/policy',
      access: CUSTODIAN,
      approval: 'policy.change',
      tag: 'keystores',
      summary: 'Set the secondary authorization policy',
      params: storeParams,
      body: z.object({ policy: z.unknown().describe('a SecondaryPolicy document') }).strict(),
      responses: { 200: z.object({ policy: policyView.nullable() }), 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        return gated(deps, input, 'policy.change', { keyStore: input.params.name, policy: input.body.policy ?? null }, (r) => ({ policy: r as SecondaryPolicy | null }));
      },
    }),
    defineRoute({
      id: 'keystores.policy.clear',
      method: 'DELETE',
      url: '/keystores/:name/policy',
      access: CUSTODIAN,
      approval: 'policy.change',
      tag: 'keystores',
      summary: 'Remove the policy (every authenticated call is allowed)',
      params: storeParams,
      responses: { 200: z.object({ policy: z.null() }), 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        return gated(deps, input, 'policy.change', { keyStore: input.params.name, policy: null }, () => ({ policy: null }));
      },
    }),
    defineRoute({
      id: 'keystores.aws-config',
      method: 'POST',
      url: '/keystores/:name/aws-config',
      access: ['administrator'],
      approval: 'keystore.aws-config',
      tag: 'keystores',
      summary: "Export the AWS KMS console's proxy configuration file (contains the secret)",
      description:
        'Administrators only: the file holds a live SigV4 secret for the person who connects the key store in the KMS console. Every export is recorded in the audit log; under a keystore.aws-config rule it waits for custodians and the requester collects the file once.',
      params: storeParams,
      body: z.object({ accessKeyId: z.string().min(1).max(64).optional() }).strict().nullish(),
      responses: { 200: proxyConfigView, 202: pendingApprovalView, ...ERROR_RESPONSES },
      async handle(input) {
        const params = { keyStore: input.params.name, ...(input.body?.accessKeyId ? { accessKeyId: input.body.accessKeyId } : {}) };
        return gated(deps, input, 'keystore.aws-config', params, (r) => r as ProxyConfigurationFile);
      },
    }),
  ];
}
