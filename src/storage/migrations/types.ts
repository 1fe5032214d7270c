import { sql, type RawBuilder } from 'kysely';

/** The binary column type of each dialect. */
export function binary(binaryType: 'blob' | 'bytea'): RawBuilder<unknown> {
  return sql.raw(binaryType);
}
