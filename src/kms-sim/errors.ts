/**
 * KMS API errors as the simulator puts them on the wire: the exception name (`__type`),
 * a message, and the HTTP status from the KMS Smithy model (kms-semantics §2.14).
 * Handlers throw `kmsError(name, message)`; the wire layer renders it once.
 */

export type KmsErrorName =
  // modelled KMS exceptions
  | 'AlreadyExistsException'
  | 'ConflictException'
  | 'CustomKeyStoreHasCMKsException'
  | 'CustomKeyStoreInvalidStateException'
  | 'CustomKeyStoreNameInUseException'
  | 'CustomKeyStoreNotFoundException'
  | 'DependencyTimeoutException'
  | 'DisabledException'
  | 'DryRunOperationException'
  | 'ExpiredImportTokenException'
  | 'IncorrectKeyException'
  | 'IncorrectKeyMaterialException'
  | 'InvalidAliasNameException'
  | 'InvalidArnException'
  | 'InvalidCiphertextException'
  | 'InvalidGrantIdException'
  | 'InvalidGrantTokenException'
  | 'InvalidImportTokenException'
  | 'InvalidKeyUsageException'
  | 'InvalidMarkerException'
  | 'KMSInternalException'
  | 'KMSInvalidStateException'
  | 'KMSInvalidMacException'
  | 'KMSInvalidSignatureException'
  | 'LimitExceededException'
  | 'MalformedPolicyDocumentException'
  | 'NotFoundException'
  | 'TagException'
  | 'UnsupportedOperationException'
  | 'XksKeyAlreadyInUseException'
  | 'XksKeyInvalidConfigurationException'
  | 'XksKeyNotFoundException'
  | 'XksProxyIncorrectAuthenticationCredentialException'
  | 'XksProxyInvalidConfigurationException'
  | 'XksProxyInvalidResponseException'
  | 'XksProxyUriEndpointInUseException'
  | 'XksProxyUriInUseException'
  | 'XksProxyUriUnreachableException'
  | 'XksProxyVpcEndpointServiceInUseException'
  // generic AWS errors (not in the KMS model)
  | 'ValidationException'
  | 'SerializationException'
  | 'UnknownOperationException'
  | 'ThrottlingException'
  | 'NotAuthorizedException'
  | 'AccessDeniedException'
  | 'MissingAuthenticationTokenException'
  | 'IncompleteSignatureException'
  | 'InvalidSignatureException'
  | 'UnrecognizedClientException';

const STATUS: Partial<Record<KmsErrorName, number>> = {
  NotFoundException: 404,
  AlreadyExistsException: 409,
  ConflictException: 409,
  DisabledException: 409,
  KMSInvalidStateException: 409,
  DryRunOperationException: 412,
  KMSInternalException: 500,
  DependencyTimeoutException: 503,
};

/**
 * HTTP status for an error name; everything the model does not list is a 400, which is also
 * what AWS JSON services answer for signature problems (UnrecognizedClient, InvalidSignature).
 */
export function kmsErrorStatus(name: KmsErrorName): number {
  return STATUS[name] ?? 400;
}

export class KmsError extends Error {
  override readonly name = 'KmsError';
  constructor(
    readonly type: KmsErrorName,
    message: string,
  ) {
    super(message);
  }
  get status(): number {
    return kmsErrorStatus(this.type);
  }
}

export function kmsError(type: KmsErrorName, message: string): KmsError {
  return new KmsError(type, message);
}

export function isKmsError(e: unknown, type?: KmsErrorName): e is KmsError {
  return e instanceof KmsError && (type === undefined || e.type === type);
}
