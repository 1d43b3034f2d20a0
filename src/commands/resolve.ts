import { historyStore, loadMigrations } from '../pipeline/migrate-step.js';
import type { CommandContext } from '../pipeline/context.js';
import {
  planResolveApplied,
  planResolveRolledBack,
  requireMigration,
} from '../migrations/recovery.js';
import { writeRecovery } from '../migrations/recovery-write.js';
import { readHistoryWherePresent } from '../migrations/history.js';
import { withMigrationLock } from './migrate.js';

/**
 * `preflight resolve --applied NAME` / `--rolled-back NAME`: repairs the history of one
 * migration after a human fixed the database, under the lock. Writes history only; an unknown
 * name is exit 2, a request the history makes meaningless (already applied, not failed) exit 6.
 */
export async function resolveCommand(ctx: CommandContext): Promise<number> {
  const set = loadMigrations(ctx);
  const name = ctx.config.name ?? '';
  const applied = ctx.config.resolveAs === 'applied';
  // A typo fails before connecting; a rolled-back name may exist only in the history.
  if (applied) requireMigration(set.layout, set.files, name);
  const store = historyStore(set.layout);
  await withMigrationLock(ctx, set, async (session) => {
    const history = await readHistoryWherePresent(store, session.client);
    const plan = applied
      ? planResolveApplied(set.layout, set.files, history, name)
      : planResolveRolledBack(set.layout, set.files, history, name);
    await writeRecovery(session.client, store, plan.actions, ctx.logger);
  });
  return 0;
}
