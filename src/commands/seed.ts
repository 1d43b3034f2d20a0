import type { CommandContext } from '../pipeline/context.js';
import { loadMigrations } from '../pipeline/migrate-step.js';
import { loadSeeds, seedDatabase } from '../pipeline/seed-step.js';
import { withMigrationLock } from './migrate.js';

/** `preflight seed`: the seeds only, in one transaction, under the advisory lock. */
export async function seedCommand(ctx: CommandContext): Promise<number> {
  const seeds = loadSeeds(ctx);
  if (!seeds) return 0;
  const set = loadMigrations(ctx);
  await withMigrationLock(ctx, set, (session) => seedDatabase(ctx, session, seeds));
  return 0;
}
