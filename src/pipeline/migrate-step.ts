import type { Session } from '../connection/session.js';
import { HistoryConflictError } from '../errors.js';
import { applyMigration } from '../migrations/apply.js';
import { flatHistory } from '../migrations/flat-history.js';
import { readHistoryWherePresent, type HistoryStore } from '../migrations/history.js';
import { planMigrations } from '../migrations/plan.js';
import { prismaHistory } from '../migrations/prisma-history.js';
import {
  listMigrations,
  readListedMigrations,
  type MigrationListing,
  type MigrationsDirectory,
} from '../migrations/source.js';
import type { AppliedMigration, Layout, MigrationSet, Plan } from '../migrations/types.js';
import type { CommandContext } from './context.js';
import { tuneForBulkWork } from '../v8-tuning.js';

/** The history store of a layout. */
export function historyStore(layout: Layout): HistoryStore {
  return layout === 'prisma' ? prismaHistory : flatHistory;
}

/** Reads the migrations directory, logging and reporting what was skipped. */
export function loadMigrations(ctx: CommandContext): MigrationSet {
  return readListedMigrations(listMigrationsStep(ctx));
}

/**
 * Lists the migrations directory (names and order; the files are read later, by
 * readListedMigrations), logging and reporting what was skipped.
 */
export function listMigrationsStep(
  ctx: CommandContext,
  directory?: MigrationsDirectory,
): MigrationListing {
  const listing = listMigrations(directory ?? ctx.config.migrations.path);
  for (const warning of listing.warnings) {
    ctx.logger.warn({ event: 'migrations.skipped' }, warning);
    ctx.report.warnings.push(warning);
  }
  return listing;
}

/** Reads the history and plans, filling the report's migrations section. */
export async function planFromDatabase(
  ctx: CommandContext,
  session: Session,
  set: MigrationSet,
): Promise<Plan> {
  return planFromHistory(
    ctx,
    set,
    await readHistoryWherePresent(historyStore(set.layout), session.client),
  );
}

/** Plans from a history already read, filling the report's migrations section. */
export function planFromHistory(
  ctx: CommandContext,
  set: MigrationSet,
  history: readonly AppliedMigration[],
): Plan {
  const plan = planMigrations(set.layout, set.files, history);
  ctx.report.migrations = {
    layout: set.layout,
    total: set.files.length,
    alreadyApplied: plan.applied.length,
    appliedNow: [],
    pending: plan.pending.map((f) => f.name),
    conflicts: [...plan.conflicts],
  };
  return plan;
}

/** Throws HistoryConflictError (exit 6) listing every conflict, before anything changes. */
export function assertNoConflicts(plan: Plan): void {
  if (plan.conflicts.length === 0) return;
  const lines = plan.conflicts.map((c) => `  - ${c.message}`).join('\n');
  throw new HistoryConflictError(
    `${plan.conflicts.length === 1 ? 'a history conflict' : `${plan.conflicts.length} history conflicts`}; nothing was changed:\n${lines}`,
    { conflicts: plan.conflicts },
  );
}

/**
 * Applies every pending migration in order (the caller holds the lock). Stops at the first
 * failure with MigrationError (exit 5); the ones before it stay applied and recorded.
 */
export async function applyPending(
  ctx: CommandContext,
  session: Session,
  set: MigrationSet,
  plan: Plan,
): Promise<void> {
  const store = historyStore(set.layout);
  const total = plan.pending.length;
  if (total === 0) {
    ctx.logger.info(
      { event: 'migrations.none-pending', applied: plan.applied.length },
      'no pending migrations',
    );
    return;
  }
  await tuneForBulkWork();
  await store.ensure(session.client);
  const started = Date.now();
  const applyCtx = {
    session,
    store,
    logger: ctx.logger,
    signal: ctx.signal,
    ddlLockTimeoutMs: ctx.config.ddlLockTimeoutMs,
    ddlRetries: ctx.config.ddlRetries,
    statementTimeoutMs: ctx.config.statementTimeoutMs,
  };
  for (const [index, file] of plan.pending.entries()) {
    const result = await applyMigration(applyCtx, file);
    ctx.report.migrations?.appliedNow.push({
      name: file.name,
      durationMs: result.durationMs,
      mode: result.mode,
    });
    ctx.report.migrations?.pending.shift();
    ctx.logger.info(
      {
        event: 'migration.applied',
        migration: file.name,
        index: index + 1,
        total,
        mode: result.mode,
        durationMs: result.durationMs,
      },
      `applied ${index + 1}/${total} ${file.name}`,
    );
  }
  ctx.logger.info(
    { event: 'migrations.applied', count: total, durationMs: Date.now() - started },
    `applied ${total} migration${total === 1 ? '' : 's'}`,
  );
}
