import type { CommandContext } from '../pipeline/context.js';
import {
  applyPending,
  assertNoConflicts,
  loadMigrations,
  planFromDatabase,
} from '../pipeline/migrate-step.js';
import { loadSeeds, seedDatabase, seedRowsCheck } from '../pipeline/seed-step.js';
import {
  loadExpected,
  precheckMatches,
  precheckVerifiedState,
  verifyDatabase,
  type Precheck,
} from '../pipeline/verify-step.js';
import { withCheckedLock } from './migrate.js';

/**
 * `preflight run`: migrate, seed and verify under the advisory lock; returns 0 when the
 * database is in sync, throws the typed error of the step that failed otherwise.
 *
 * The expected-schema file is validated before anything changes. When nothing is pending and the
 * seeds are declarative rows only (they change no catalog), the fingerprint is looked up first:
 * a catalog unchanged since a passed verification against this very file needs no parse of it.
 */
export async function runCommand(ctx: CommandContext): Promise<number> {
  const set = loadMigrations(ctx);
  const seeds = loadSeeds(ctx);
  const expected = await loadExpected(ctx);
  // Planning and the fingerprint lookup only read: they run while the lock check does.
  await withCheckedLock(ctx, set, async (session, held) => {
    const plan = await planFromDatabase(ctx, session, set);
    assertNoConflicts(plan);
    let precheck: Precheck | undefined;
    if (expected) {
      const catalogStays = plan.pending.length === 0 && !seeds?.some((s) => s.kind === 'sql');
      if (catalogStays) precheck = await precheckVerifiedState(ctx, session.client, expected);
      if (!precheckMatches(precheck)) expected.schema();
    }
    await held;
    await applyPending(ctx, session, set, plan);
    if (seeds) await seedDatabase(ctx, session, seeds);
    await verifyDatabase(ctx, session.client, expected, seedRowsCheck(seeds), 'create', precheck);
  });
  return 0;
}
