import { ExitCode, PreflightError } from '../errors.js';
import type { RunReport } from '../report/run-report.js';

/** Socket errors that mean the connection is gone. */
const LOST_ERRNOS = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'ENOTCONN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
/** SQLSTATEs after which the server closes the connection: class 08, terminated, crashed. */
const LOST_SQLSTATE = /^(08...|57P01|57P02)$/;
/** node-postgres reports a vanished socket by message only. */
const LOST_MESSAGE =
  /Connection terminated|not queryable|server closed the connection|terminating connection/i;

/** Whether an error means that the connection to the server was lost (cut, reset, terminated). */
export function isConnectionLost(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (LOST_ERRNOS.has(code) || LOST_SQLSTATE.test(code))) return true;
  return LOST_MESSAGE.test(error.message);
}

type Phase = NonNullable<RunReport['phase']> | 'session';

/** What was going on in each phase, what the server did about it, and the phase's exit code. */
const PHASES: Record<Phase, { doing: string; outcome: string; exitCode: number }> = {
  connect: {
    doing: 'connecting',
    outcome: 'Nothing was changed.',
    exitCode: ExitCode.unreachable,
  },
  session: {
    doing: 'reading the database',
    outcome: 'Nothing was changed.',
    exitCode: ExitCode.unreachable,
  },
  lock: {
    doing: 'waiting for the advisory lock',
    outcome: 'Nothing was changed; the server releases the lock with the connection.',
    exitCode: ExitCode.lockTimeout,
  },
  migrate: {
    doing: 'reading the migration history',
    outcome: 'Nothing was changed.',
    exitCode: ExitCode.migrationFailed,
  },
  seed: {
    doing: 'seeding',
    outcome: 'The server rolls back the seed transaction with the connection: no seed was applied.',
    exitCode: ExitCode.seedFailed,
  },
  verify: {
    doing: 'verifying',
    outcome: 'Verification is read-only: nothing was changed by it.',
    exitCode: ExitCode.drift,
  },
};

const MIGRATION_OUTCOME =
  'The server rolls back the open transaction with the connection, so the migration is in the ' +
  'history exactly when its changes are (also when the connection broke during its COMMIT); ' +
  'the migrations before it stay applied. A migration that runs outside a transaction ' +
  '(CREATE INDEX CONCURRENTLY, ...) may be left recorded as failed: `preflight status` tells.';

/**
 * The error to surface when the connection was lost: names the phase (and migration), says what
 * the database is left with, and carries the exit code of that phase. Other errors pass as they are.
 */
export function asConnectionLost(error: unknown, report: RunReport, sessionOpen: boolean): unknown {
  const cause =
    error instanceof PreflightError && (error.code === 'migration' || error.code === 'seed')
      ? error.cause
      : error;
  if (error instanceof PreflightError && cause === error) return error;
  if (!isConnectionLost(cause)) return error;
  const phase: Phase = report.phase ?? (sessionOpen ? 'session' : 'connect');
  const migration =
    error instanceof PreflightError && typeof error.details.migration === 'string'
      ? error.details.migration
      : undefined;
  const { doing, outcome, exitCode } = PHASES[phase];
  const what = migration ? `applying migration ${migration}` : doing;
  const reason = (cause as Error).message.split('\n')[0];
  return new PreflightError(
    'connection-lost',
    exitCode,
    `lost the connection to the database while ${what} (${reason}). ` +
      `${migration ? MIGRATION_OUTCOME : outcome} Check the network path to the database ` +
      '(a proxy, pooler or failover), then deploy again: preflight continues where it stopped.',
    { cause, details: { phase, ...(migration ? { migration } : {}) } },
  );
}
