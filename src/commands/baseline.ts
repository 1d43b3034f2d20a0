import { historyStore, loadMigrations } from '../pipeline/migrate-step.js';
import type { CommandContext } from '../pipeline/context.js';
import { planBaseline, requireMigration } from '../migrations/recovery.js';
import { writeRecovery } from '../migrations/recovery-write.js';
import { readHistoryWherePresent } from '../migrations/history.js';
import { withMigrationLock } from './migrate.js';

/**
 * `preflight baseline --to NAME`: adopts a database that already has the schema by recording
 * every migration up to NAME as applied, without running any. Under the lock; history only.
 * An unknown name is exit 2; NAME already applied, or a failed migration up to it, exit 6.
 */
export async function baselineCommand(ctx: CommandContext): Promise<number> {
  const set = loadMigrations(ctx);
  const name = ctx.config.name ?? '';
  const target = requireMigration(set.layout, set.files, name);
  const store = historyStore(set.layout);
  await withMigrationLock(ctx, set, async (session) => {
    const history = await readHistoryWherePresent(store, session.client);
    const plan = planBaseline(set.layout, set.files, history, name);
    await writeRecovery(session.client, store, plan.actions, ctx.logger);
    ctx.logger.info(
      { event: 'baseline.done', to: target.name, recorded: plan.actions.length },
      `baseline: ${plan.actions.length} migration(s) up to ${target.name} recorded as applied`,
    );
  });
  return 0;
}
