import type { Session } from '../connection/session.js';
import { acquireLock, assertLockHeld, releaseLock } from '../lock/advisory-lock.js';
import type { MigrationSet } from '../migrations/types.js';
import type { CommandContext } from '../pipeline/context.js';
import {
  applyPending,
  assertNoConflicts,
  historyStore,
  loadMigrations,
  planFromDatabase,
} from '../pipeline/migrate-step.js';
import { withSession } from '../pipeline/session-scope.js';

/**
 * Connects, takes the advisory lock of the layout's history, and runs `fn` under it; the lock is
 * released in `finally` (and by closing the connection, whatever happens).
 */
export async function withMigrationLock<T>(
  ctx: CommandContext,
  set: MigrationSet,
  fn: (session: Session) => Promise<T>,
): Promise<T> {
  const key = historyStore(set.layout).lockKey;
  return withSession(ctx, async (session) => {
    ctx.report.phase = 'lock';
    const lockPid = await acquireLock(session, {
      key,
      timeoutMs: ctx.config.lockTimeoutMs,
      logger: ctx.logger,
      signal: ctx.signal,
    });
    try {
      await assertLockHeld(session, key, ctx.logger, lockPid);
      ctx.report.phase = 'migrate';
      return await fn(session);
    } finally {
      await releaseLock(session, key, ctx.logger);
    }
  });
}

/** Plans under the lock, stops on conflicts, applies what is pending. */
export async function migrateUnderLock(
  ctx: CommandContext,
  session: Session,
  set: MigrationSet,
): Promise<void> {
  const plan = await planFromDatabase(ctx, session, set);
  assertNoConflicts(plan);
  await applyPending(ctx, session, set, plan);
}

/** `preflight migrate`: pending migrations only. */
export async function migrateCommand(ctx: CommandContext): Promise<number> {
  const set = loadMigrations(ctx);
  await withMigrationLock(ctx, set, (session) => migrateUnderLock(ctx, session, set));
  return 0;
}
