import type { CommandContext } from '../pipeline/context.js';
import { loadMigrations } from '../pipeline/migrate-step.js';
import { migrateUnderLock, withMigrationLock } from './migrate.js';

/** `preflight run`: migrate, seed and verify under the lock; returns 0 when the database is in sync. */
export async function runCommand(ctx: CommandContext): Promise<number> {
  const set = loadMigrations(ctx);
  await withMigrationLock(ctx, set, async (session) => {
    await migrateUnderLock(ctx, session, set);
  });
  return 0;
}
