import { existsSync } from 'node:fs';
import { DriftError } from '../errors.js';
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

/** The migrations, when there is a directory to read (an absent default is not an error here). */
function migrationsIfPresent(ctx: CommandContext): MigrationSet | undefined {
  const { migrations } = ctx.config;
  return migrations.explicit || existsSync(migrations.path) ? loadMigrations(ctx) : undefined;
}

/** The files verify reads while connecting. */
type Files = { set: MigrationSet | undefined; seeds: SeedFile[] | undefined };

/**
 * `preflight verify`: expected schema, assertions, seed rows and the migration history, like the
 * audit of the origin story; read-only, no lock. Exit 8 on drift (pending migrations included),
 * 6 on a history conflict; the report always shows every check.
 */
export async function verifyCommand(ctx: CommandContext): Promise<number> {
  await withSession(
    ctx,
    async (session, early: ReadOnlyStart<Files>) => {
      const { set, seeds } = early.files;
      const { expected } = early;
      // The probe of the history's table goes out now, the history once the probe shows the
      // table (readHistoryWherePresent); the lookup behind the fingerprint (the file is hashed
      // for its key meanwhile).
      const planned = set ? planFromDatabase(ctx, session, set) : undefined;
      planned?.catch(() => undefined);
      const precheck = lookupBehind(ctx, session.client, expected, early);
      // Opened as soon as the lookup shows a full read ahead, while the history is read.
      const helper = helperAfter(ctx, expected, precheck);
      try {
        // The catalog's statements go out without waiting for the history's answer; a failed
        // history read is reported first.
        const verified = verifyAfterLookup(ctx, session.client, expected, seeds, precheck, helper);
        verified.catch(() => undefined);
        const plan = await planned;
        const drift = await verified;
        if (plan) assertNoConflicts(plan);
        if (drift) throw drift;
        if (plan && plan.pending.length > 0) {
          throw new DriftError(
            `${plan.pending.length} migration(s) not applied: ${plan.pending.map((f) => f.name).join(', ')}`,
          );
        }
      } finally {
        await endHelper(helper);
      }
    },
    readWhileConnecting(ctx, () => ({ set: migrationsIfPresent(ctx), seeds: loadSeeds(ctx) })),
  );
  return 0;
}
