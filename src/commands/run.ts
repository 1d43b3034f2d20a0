import type { CommandContext } from '../pipeline/context.js';
import { loadMigrations } from '../pipeline/migrate-step.js';
import { loadSeeds, seedDatabase, seedRowsCheck } from '../pipeline/seed-step.js';
import { loadExpected, verifyDatabase } from '../pipeline/verify-step.js';
import { migrateUnderLock, withMigrationLock } from './migrate.js';

/**
 * `preflight run`: migrate, seed and verify under the advisory lock; returns 0 when the
 * database is in sync, throws the typed error of the step that failed otherwise.
 */
export async function runCommand(ctx: CommandContext): Promise<number> {
  const set = loadMigrations(ctx);
  const seeds = loadSeeds(ctx);
  const expected = await loadExpected(ctx);
  await withMigrationLock(ctx, set, async (session) => {
    await migrateUnderLock(ctx, session, set);
    if (seeds) await seedDatabase(ctx, session, seeds);
    await verifyDatabase(ctx, session.client, expected, seedRowsCheck(seeds));
  });
  return 0;
}
