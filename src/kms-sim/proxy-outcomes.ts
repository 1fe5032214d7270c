/**
 * What KMS returns when the proxy fails, per kind of KMS operation (kms-semantics §1.5,
 * xks-spec §7 and §9). The proxy's own errorMessage is never passed on, as in KMS.
 *
 * Choices where the sources disagree (documented in docs/kms-simulator.md):
 * - a TLS failure on Create/Update is XksProxyUriUnreachableException (spec table);
 * - proxy AccessDenied or UnsupportedOperation during CreateKey is
 *   CustomKeyStoreInvalidStateException (the spec's XksKeyInvalidResponseException is not
 *   in the KMS model);
 * - a 429 at connect is XKS_PROXY_NOT_REACHABLE, a 503 is XKS_PROXY_TIMED_OUT.
 */
import { kmsError, type KmsError } from './errors.js';
import type { ConnectionErrorCode } from './model.js';
import type { ProxyFailure } from './xks-proxy.js';

/** A health answer in which no EKM can serve counts as unreachable. */
export type HealthFailure = ProxyFailure | { kind: 'all-unavailable' };

/** CreateCustomKeyStore / UpdateCustomKeyStore: the new settings failed the health probe. */
export function keyStoreSettingsError(f: HealthFailure): KmsError {
  switch (f.kind) {
    case 'timeout':
    case 'network':
    case 'tls':
    case 'all-unavailable':
      return kmsError('XksProxyUriUnreachableException', 'KMS cannot communicate with your external key store proxy. Verify the proxy URI endpoint and that the proxy is reachable and healthy.');
    case 'error':
      switch (f.errorName) {
        case 'AuthenticationFailedException':
          return kmsError('XksProxyIncorrectAuthenticationCredentialException', 'The external key store proxy rejected the authentication credential. Verify the access key ID and secret access key.');
        case 'InvalidUriPathException':
          return kmsError('XksProxyInvalidConfigurationException', 'The external key store proxy does not recognise the proxy URI path. Verify the path and that the proxy serves it.');
        case 'DependencyTimeoutException':
        case 'ThrottlingException':
          return kmsError('XksProxyUriUnreachableException', 'KMS cannot communicate with your external key store proxy: it timed out or throttled the request.');
        case 'UnsupportedOperationException':
          return kmsError('UnsupportedOperationException', 'The external key store proxy does not support the GetHealthStatus operation.');
        default:
          return kmsError('XksProxyInvalidResponseException', 'KMS cannot interpret the response from the external key store proxy.');
      }
    case 'invalid':
      return kmsError('XksProxyInvalidResponseException', 'KMS cannot interpret the response from the external key store proxy.');
  }
}

/** ConnectCustomKeyStore: the store goes FAILED with this code. */
export function connectionErrorCode(f: HealthFailure): ConnectionErrorCode {
  switch (f.kind) {
    case 'timeout':
      return 'XKS_PROXY_TIMED_OUT';
    case 'network':
    case 'all-unavailable':
      return 'XKS_PROXY_NOT_REACHABLE';
    case 'tls':
      return 'XKS_PROXY_INVALID_TLS_CONFIGURATION';
    case 'invalid':
      return 'XKS_PROXY_INVALID_RESPONSE';
    case 'error':
      switch (f.errorName) {
        case 'AuthenticationFailedException':
          return 'INVALID_CREDENTIALS';
        case 'AccessDeniedException':
          return 'XKS_PROXY_ACCESS_DENIED';
        case 'InvalidUriPathException':
          return 'XKS_PROXY_INVALID_CONFIGURATION';
        case 'DependencyTimeoutException':
          return 'XKS_PROXY_TIMED_OUT';
        case 'ThrottlingException':
          return 'XKS_PROXY_NOT_REACHABLE';
        default:
          return 'XKS_PROXY_INVALID_RESPONSE';
      }
  }
}

/** CreateKey with Origin=EXTERNAL_KEY_STORE: GetKeyMetadata failed. */
export function createKeyProxyError(f: ProxyFailure, xksKeyId: string): KmsError {
  if (f.kind === 'error') {
    switch (f.errorName) {
      case 'KeyNotFoundException':
        return kmsError('XksKeyNotFoundException', `The external key store proxy did not find an external key with ID ${xksKeyId}.`);
      case 'InvalidStateException':
      case 'InvalidKeyUsageException':
        return kmsError('XksKeyInvalidConfigurationException', `The external key ${xksKeyId} is not enabled or does not allow encryption and decryption.`);
    }
  }
  const why =
    f.kind === 'timeout'
      ? 'the proxy did not respond in time'
      : f.kind === 'network' || f.kind === 'tls'
        ? 'the proxy is not reachable'
        : f.kind === 'invalid'
          ? 'the proxy response could not be interpreted'
          : `the proxy returned ${f.errorName}`;
  return kmsError('CustomKeyStoreInvalidStateException', `KMS could not get the metadata of external key ${xksKeyId}: ${why}.`);
}

/** Encrypt, Decrypt, GenerateDataKey*, ReEncrypt on an XKS key: always KMSInvalidStateException. */
export function cryptoProxyError(f: ProxyFailure, keyArn: string, direction: 'encrypt' | 'decrypt'): KmsError {
  let text: string;
  switch (f.kind) {
    case 'timeout':
      text = 'the external key store proxy did not respond in time. Retry the request';
      break;
    case 'network':
    case 'tls':
      text = 'KMS cannot communicate with the external key store proxy';
      break;
    case 'invalid':
      text = 'KMS cannot interpret the response from the external key store proxy';
      break;
    case 'error':
      switch (f.errorName) {
        case 'InvalidCiphertextException':
          text = 'the external key store proxy rejected the request because the specified ciphertext or additional authenticated data is corrupted, missing, or otherwise invalid';
          break;
        case 'InvalidStateException':
          text = 'the external key used by this KMS key is not enabled, or its key store is disabled, in the external key manager';
          break;
        case 'KeyNotFoundException':
          text = 'the external key store proxy did not find the external key used by this KMS key';
          break;
        case 'InvalidKeyUsageException':
          text = `the external key does not allow the ${direction} operation`;
          break;
        case 'AuthenticationFailedException':
          text = 'the external key store proxy rejected the authentication credential';
          break;
        case 'AccessDeniedException':
          text = 'the external key store proxy denied access to the operation. Check the proxy authorization policy';
          break;
        case 'ThrottlingException':
          text = 'the external key store proxy rejected the request due to a very high request rate. Reduce the frequency of your calls';
          break;
        case 'InvalidUriPathException':
          text = 'the external key store proxy does not recognise the request path';
          break;
        default:
          text = `the external key store proxy could not complete the request (${f.errorName})`;
      }
  }
  return kmsError('KMSInvalidStateException', `${keyArn}: ${text}.`);
}
