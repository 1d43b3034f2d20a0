import type pg from 'pg';
import type { Session } from '../connection/session.js';
import {
  acquireLock,
  assertLockHeld,
  releaseLock,
  type Granted,
  type LockTry,
} from '../lock/advisory-lock.js';
import type { Layout, MigrationSet } from '../migrations/types.js';
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
 * released in `finally` (and by closing the connection, whatever happens). `fn` starts once the
 * lock is known to be held by this session alone (assertLockHeld: no pooler in transaction mode).
 */
export async function withMigrationLock<T>(
  ctx: CommandContext,
  set: { readonly layout: Layout },
  fn: (session: Session) => Promise<T>,
): Promise<T> {
  return withCheckedLock(
    ctx,
    () => set,
    async (session, held) => {
      await held;
      return fn(session);
    },
  );
}

/**
 * Like withMigrationLock, but the files are read by `prepare` while connecting (whose result
 * names the layout, hence the lock), and `fn` starts as soon as the lock is granted, while the
 * check that only this session holds it runs alongside (on a direct connection there is nothing
 * to check; else a second connection, three rounds): `fn` may read meanwhile and must await
 * `held` before it changes anything. A failed check is the error thrown, whatever `fn` did.
 */
export async function withCheckedLock<
  T,
  P extends { readonly layout: Layout; readonly firstTry?: Promise<LockTry> },
>(
  ctx: CommandContext,
  prepare: (connected: Promise<pg.Client>) => P | Promise<P>,
  fn: (session: Session, held: Promise<void>, prepared: P, granted: Granted) => Promise<T>,
): Promise<T> {
  return withSession(
    ctx,
    async (session, prepared) => {
      const key = historyStore(prepared.layout).lockKey;
      ctx.report.phase = 'lock';
      const granted = await acquireLock(session, {
        key,
        timeoutMs: ctx.config.lockTimeoutMs,
        logger: ctx.logger,
        signal: ctx.signal,
        ...(prepared.firstTry ? { first: prepared.firstTry } : {}),
      });
      const held = assertLockHeld(session, key, ctx.logger, granted.pid);
      // Observed below in every path; this only keeps an early rejection from going unhandled.
      held.catch(() => undefined);
      try {
        ctx.report.phase = 'migrate';
        let result: T;
        try {
          result = await fn(session, held, prepared, granted);
        } catch (error) {
          await held;
          throw error;
        }
        await held;
        return result;
      } finally {
        await releaseLock(session, key, ctx.logger);
      }
    },
    prepare,
  );
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
