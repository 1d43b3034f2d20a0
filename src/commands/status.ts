import { ExitCode } from '../errors.js';
import type { MigrationSet } from '../migrations/types.js';
import type { SeedFile } from '../seeds/types.js';
import type { CommandContext } from '../pipeline/context.js';
import { assertNoConflicts, loadMigrations, planFromDatabase } from '../pipeline/migrate-step.js';
import { loadSeeds } from '../pipeline/seed-step.js';
import { withSession } from '../pipeline/session-scope.js';
import { lookupBehind } from '../pipeline/precheck.js';
import { readWhileConnecting, type ReadOnlyStart } from '../pipeline/read-only-start.js';
import { verifyAfterLookup } from '../pipeline/verify-step.js';
import { endHelper, helperAfter } from '../pipeline/verify-structure.js';

/** The files status reads while connecting. */
type Files = { set: MigrationSet; seeds: SeedFile[] | undefined };

/**
 * `preflight status`: the read-only plan and the drift report. Exit 6 on history conflicts, 9
 * when migrations are pending (the drift they would fix is shown, not counted), 8 on drift, else 0.
 */
export async function statusCommand(ctx: CommandContext): Promise<number> {
  return withSession(
    ctx,
    async (session, early: ReadOnlyStart<Files>) => {
      const { set, seeds } = early.files;
      const { expected } = early;
      // The history where its table exists, and the lookup behind the fingerprint (see verify).
      const planned = planFromDatabase(ctx, session, set);
      planned.catch(() => undefined);
      const precheck = lookupBehind(ctx, session.client, expected, early);
      // Opened as soon as the lookup shows a full read ahead, while the history is read.
      const helper = helperAfter(ctx, expected, precheck);
      try {
        const plan = await planned;
        assertNoConflicts(plan);
        for (const file of plan.pending) {
          ctx.logger.info(
            { event: 'status.pending', migration: file.name },
            `pending: ${file.name}`,
          );
        }
        ctx.logger.info(
          {
            event: 'status.result',
            applied: plan.applied.length,
            pending: plan.pending.length,
            total: set.files.length,
          },
          plan.pending.length
            ? `${plan.pending.length} pending migration(s)`
            : 'all migrations applied',
        );
        const drift = await verifyAfterLookup(
          ctx,
          session.client,
          expected,
          seeds,
          precheck,
          helper,
        );
        if (plan.pending.length > 0) return ExitCode.pending;
        return drift ? ExitCode.drift : ExitCode.ok;
      } finally {
        await endHelper(helper);
      }
    },
    readWhileConnecting(ctx, () => ({ set: loadMigrations(ctx), seeds: loadSeeds(ctx) })),
  );
}
