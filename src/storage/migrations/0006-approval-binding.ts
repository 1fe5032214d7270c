import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Approvals that cannot be walked around:
 * - admin_users.trusted_since: when the account last gained the power to vote (creation,
 *   re-enabling, role change, password reset); a vote on a request filed earlier is void.
 *   Existing accounts start at their last update, the conservative choice.
 * - approval_requests.rule: the rule that guarded the request (an operation such as a usage
 *   change falls under the rule of the action it is equivalent to). Existing requests
 *   were guarded by the rule named like their action.
 */
export function approvalBinding(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('admin_users').addColumn('trusted_since', 'text').execute();
      await sql`UPDATE admin_users SET trusted_since = updated_at`.execute(db);
      await db.schema.alterTable('approval_requests').addColumn('rule', 'text').execute();
      await sql`UPDATE approval_requests SET rule = action`.execute(db);
    },
  };
}
