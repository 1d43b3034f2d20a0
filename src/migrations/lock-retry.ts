import { formatDuration } from '../config/duration.js';
import type { Session } from '../connection/session.js';
import { sleep } from '../connection/sleep.js';
import type { Logger } from '../log/logger.js';
import { type Blocker, watchBlockers } from './blockers.js';

export const LOCK_NOT_AVAILABLE = '55P03';

/** One failed attempt at a migration: the error, where the SQL sent starts in the file, what it left. */
export class StepFailure extends Error {
  /** After lock timeouts: the sessions seen blocking the last attempt. */
  blockers: Blocker[] = [];

  constructor(
    /** What the server (or the abort) said. */
    readonly error: unknown,
    /** Offset in the file of the text that failed; undefined when the failure is not in the file. */
    readonly offset: number | undefined,
    /** What the database is left with (and, when a human must act, what to do). */
    readonly outcome: string,
    /** Nothing of the migration was applied or recorded: it simply runs again next time. */
    readonly clean = false,
  ) {
    super(error instanceof Error ? error.message : String(error));
  }
}

/** The SQLSTATE of a thrown value (looking inside a StepFailure), if it has one. */
export function sqlState(error: unknown): string | undefined {
  const inner = error instanceof StepFailure ? error.error : error;
  const code = (inner as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** What retrying needs to know. */
export interface RetrySettings {
  readonly session: Session;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  readonly ddlLockTimeoutMs: number;
  readonly ddlRetries: number;
}

/**
 * The wait before retry `n` (1-based): half the DDL lock timeout, at most 1 s, doubled at each
 * retry, at most 15 s. With the defaults (5s, 5 retries) a blocked migration gives up after
 * about a minute; it never waits in the lock queue longer than the lock timeout.
 */
export function retryDelay(lockTimeoutMs: number, n: number): number {
  const base = Math.min(1000, Math.max(50, Math.round(lockTimeoutMs / 2)));
  return Math.min(base * 2 ** (n - 1), 15_000);
}

/**
 * Retries of one migration on `lock_not_available`: each failed attempt was rolled back, so
 * the migration waits and runs again. From the second attempt on, a second connection watches
 * which sessions block it, so that the final error names them.
 */
export class LockRetry {
  retries = 0;
  blockers: Blocker[] = [];

  constructor(
    private readonly settings: RetrySettings,
    private readonly migration: string,
  ) {}

  /** Runs one attempt. */
  async run<T>(attempt: () => Promise<T>): Promise<T> {
    if (this.retries === 0) return attempt();
    const { session, ddlLockTimeoutMs } = this.settings;
    const watch = watchBlockers(session.settings, session.pid, Math.max(50, ddlLockTimeoutMs / 4));
    try {
      return await attempt();
    } finally {
      const seen = await watch.stop();
      if (seen.length > 0) this.blockers = seen;
    }
  }

  /** Whether the failure is a lock timeout with retries left; if so, waits the backoff first. */
  async shouldRetry(error: unknown): Promise<boolean> {
    const { logger, signal, ddlLockTimeoutMs, ddlRetries } = this.settings;
    if (sqlState(error) !== LOCK_NOT_AVAILABLE || signal?.aborted || this.retries >= ddlRetries) {
      return false;
    }
    this.retries++;
    const delay = retryDelay(ddlLockTimeoutMs, this.retries);
    logger.warn(
      {
        event: 'migration.lock-retry',
        migration: this.migration,
        attempt: this.retries,
        retryInMs: delay,
      },
      `${this.migration}: a table it needs is locked by another session (lock_timeout ` +
        `${formatDuration(ddlLockTimeoutMs)}); rolled back, retry ${this.retries}/${ddlRetries} in ${formatDuration(delay)}`,
    );
    // Interrupted while waiting: no retry, the caller reports the failure it has.
    await sleep(delay, signal).catch(() => undefined);
    return !signal?.aborted;
  }
}
