import { ExitCode } from '../errors.js';
import type { CommandContext } from '../pipeline/context.js';
import { assertNoConflicts, loadMigrations, planFromDatabase } from '../pipeline/migrate-step.js';
import { withSession } from '../pipeline/session-scope.js';

/** `preflight status`: a read-only plan. Exit 6 on conflicts, 9 when migrations are pending, else 0. */
export async function statusCommand(ctx: CommandContext): Promise<number> {
  const set = loadMigrations(ctx);
  const plan = await withSession(ctx, (session) => planFromDatabase(ctx, session, set));
  assertNoConflicts(plan);
  for (const file of plan.pending) {
    ctx.logger.info({ event: 'status.pending', migration: file.name }, `pending: ${file.name}`);
  }
  ctx.logger.info(
    {
      event: 'status.result',
      applied: plan.applied.length,
      pending: plan.pending.length,
      total: set.files.length,
    },
    plan.pending.length ? `${plan.pending.length} pending migration(s)` : 'all migrations applied',
  );
  return plan.pending.length > 0 ? ExitCode.pending : ExitCode.ok;
}
