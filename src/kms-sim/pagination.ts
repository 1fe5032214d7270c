/**
 * Limit/Marker paging as KMS does it (kms-semantics §2.5): `Truncated` and, only when
 * truncated, `NextMarker`. Items are listed in a stable order (by their sort key), and a
 * marker carries the sort key of the last item returned, so deletions between pages never
 * skip or repeat an item. Markers are opaque; one this simulator did not issue is
 * InvalidMarkerException.
 */
import { kmsError } from './errors.js';

const PREFIX = 'kms-sim/v1:';

function encodeMarker(lastKey: string): string {
  return Buffer.from(PREFIX + lastKey, 'utf8').toString('base64url');
}

function decodeMarker(marker: string): string {
  const text = /^[A-Za-z0-9_-]+$/.test(marker) ? Buffer.from(marker, 'base64url').toString('utf8') : '';
  if (!text.startsWith(PREFIX)) throw kmsError('InvalidMarkerException', 'The request was rejected because the marker that specifies where pagination should next begin is not valid.');
  return text.slice(PREFIX.length);
}

export interface Page<T> {
  items: T[];
  truncated: boolean;
  nextMarker: string | undefined;
}

export function paginate<T>(items: readonly T[], sortKey: (t: T) => string, limit: number, marker: string | undefined): Page<T> {
  const sorted = [...items].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
  let start = 0;
  if (marker !== undefined) {
    const after = decodeMarker(marker);
    start = sorted.findIndex((t) => sortKey(t) > after);
    if (start < 0) start = sorted.length;
  }
  const page = sorted.slice(start, start + limit);
  const truncated = start + limit < sorted.length;
  return { items: page, truncated, nextMarker: truncated && page.length > 0 ? encodeMarker(sortKey(page[page.length - 1]!)) : undefined };
}

/** The wire fields of a page. */
export function pageFields(p: Page<unknown>): { Truncated: boolean; NextMarker?: string } {
  return p.nextMarker !== undefined ? { Truncated: p.truncated, NextMarker: p.nextMarker } : { Truncated: p.truncated };
}
