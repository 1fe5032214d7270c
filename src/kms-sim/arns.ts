/** KMS identifiers and ARNs, shaped as KMS shapes them. */
import { randomBytes, randomUUID } from 'node:crypto';

export function newKeyId(multiRegion: boolean): string {
  return multiRegion ? `mrk-${randomBytes(16).toString('hex')}` : randomUUID();
}

/** `cks-` and 17 hex characters, like KMS. */
export function newCustomKeyStoreId(): string {
  return `cks-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

export function keyArn(region: string, accountId: string, keyId: string): string {
  return `arn:aws:kms:${region}:${accountId}:key/${keyId}`;
}

export function aliasArn(region: string, accountId: string, aliasName: string): string {
  return `arn:aws:kms:${region}:${accountId}:${aliasName}`;
}
