import { formatDuration } from '../config/duration.js';
import { MigrationError, PreflightError } from '../errors.js';
import {
  applyStatements,
  historyRowSql,
  isSingleBlock,
  rollback,
  type ApplyContext,
} from './apply-statements.js';
import { describeBlockers, findBlockers } from './blockers.js';
import { splitStatements, statementsMode, type Statement, type TransactionMode } from './lexer.js';
import { LOCK_NOT_AVAILABLE, LockRetry, StepFailure, sqlState } from './lock-retry.js';
import { formatSqlError, isPgError } from './sql-error.js';
import type { MigrationFile } from './types.js';

export type { ApplyContext } from './apply-statements.js';

/** What applying one migration did. */
export interface AppliedMigrationResult {
  readonly name: string;
  /** How it ran: the lexer's mode, or `statements` when Postgres refused it in one transaction. */
  readonly mode: TransactionMode;
  readonly durationMs: number;
  readonly attempts: number;
}

const PREFIX = 'BEGIN;\n';
const QUERY_CANCELED = '57014';
const REPLAY_LIMIT_MS = 5000;
/**
 * Refused inside a transaction block although the lexer saw no reason: a statement it does not
 * know (25001), a new enum value used in the file that added it (55P04), a procedure that
 * commits (2D000). `psql -f` runs these, so preflight reruns the file statement by statement.
 */
const NEEDS_AUTOCOMMIT = new Set(['25001', '55P04', '2D000']);
// Undoes what a migration set for its session (search_path, role, temp tables), as psql's
// separate sessions would; advisory locks survive all of these.
const RESET = 'RESET ALL; RESET SESSION AUTHORIZATION; RESET ROLE; DISCARD TEMP';

/**
 * Finds the statement that failed when the server gave no position (a constraint violation, a
 * bad cast): replays the statements one by one in a transaction that is rolled back. Only after
 * a quick failure, so that a heavy migration never runs twice.
 */
async function locateFailure(
  ctx: ApplyContext,
  statements: readonly Statement[],
  error: unknown,
  elapsedMs: number,
): Promise<{ error: unknown; offset: number } | undefined> {
  const code = sqlState(error);
  if (statements.length < 2 || elapsedMs > REPLAY_LIMIT_MS || ctx.signal?.aborted) return undefined;
  const expected = code === LOCK_NOT_AVAILABLE || code === QUERY_CANCELED;
  if (!isPgError(error) || error.position || expected || NEEDS_AUTOCOMMIT.has(code ?? '')) {
    return undefined;
  }
  const { client } = ctx.session;
  try {
    await client.query('BEGIN');
    for (const statement of statements) {
      try {
        await client.query(statement.text);
      } catch (replayed) {
        if (sqlState(replayed) !== code || !isPgError(replayed)) return undefined;
        // No position from the server: point at the start of the statement.
        const located = replayed.position ? replayed : Object.assign(replayed, { position: '1' });
        return { error: located, offset: statement.start };
      }
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    await rollback(client);
  }
}

/** Applies a file in one transaction together with its history row: whole or not at all. */
async function applyInTransaction(
  ctx: ApplyContext,
  file: MigrationFile,
  statements: readonly Statement[],
): Promise<void> {
  const { client } = ctx.session;
  const started = Date.now();
  let offset: number | undefined = -PREFIX.length;
  let failed: unknown;
  try {
    await client.query(PREFIX + file.body);
    offset = undefined;
    await client.query(`${historyRowSql(ctx, file, started)}; COMMIT`);
    return;
  } catch (error) {
    failed = error;
  }
  await rollback(client);
  const outcome = 'Nothing of it was applied (rolled back).';
  const located =
    offset === undefined
      ? undefined
      : await locateFailure(ctx, statements, failed, Date.now() - started);
  if (located) throw new StepFailure(located.error, located.offset, outcome, true);
  throw new StepFailure(failed, offset, outcome, true);
}

/** Runs the one-transaction mode with lock-timeout retries; returns the attempts. */
async function applyTransactional(
  ctx: ApplyContext,
  file: MigrationFile,
  statements: readonly Statement[],
): Promise<number> {
  const retry = new LockRetry(ctx, file.name);
  for (;;) {
    try {
      await retry.run(() => applyInTransaction(ctx, file, statements));
      return retry.retries + 1;
    } catch (error) {
      if (!(await retry.shouldRetry(error))) {
        if (error instanceof StepFailure) error.blockers = retry.blockers;
        throw error;
      }
    }
  }
}

/** Restores the session to how preflight set it up, so no migration leaks settings into the next. */
async function resetSession(ctx: ApplyContext): Promise<void> {
  const { client } = ctx.session;
  const statementTimeout = client.escapeLiteral(String(ctx.statementTimeoutMs ?? 0));
  const lockTimeout = client.escapeLiteral(String(ctx.ddlLockTimeoutMs));
  try {
    // Several statements in one round trip, so no parameters: the values are escaped literals.
    await client.query(
      `${RESET}; SELECT set_config('statement_timeout', ${statementTimeout}, false), set_config('lock_timeout', ${lockTimeout}, false)`,
    );
  } catch (error) {
    ctx.logger.warn(
      { event: 'session.reset-failed' },
      `could not reset the session after a migration: ${(error as Error).message}`,
    );
  }
}

function runMode(
  ctx: ApplyContext,
  file: MigrationFile,
  mode: TransactionMode,
  statements: readonly Statement[],
): Promise<number> {
  if (mode === 'transaction') return applyTransactional(ctx, file, statements);
  return applyStatements(ctx, file, statements, mode === 'explicit' && isSingleBlock(statements));
}

/**
 * Applies one migration by the mode its SQL requires (SPEC §4), then resets the session.
 * Throws MigrationError (exit 5) naming file, line, column and what the database is left with;
 * when the run was interrupted, the interruption's own error (exit 130/143, or the deadline's).
 */
export async function applyMigration(
  ctx: ApplyContext,
  file: MigrationFile,
): Promise<AppliedMigrationResult> {
  const started = Date.now();
  const statements = splitStatements(file.body);
  let mode = statementsMode(statements, file.noTransaction);
  let attempts: number;
  try {
    if (ctx.signal?.aborted) {
      throw new StepFailure(ctx.signal.reason, 0, 'It was not started.', true);
    }
    try {
      attempts = await runMode(ctx, file, mode, statements);
    } catch (error) {
      const code = sqlState(error);
      if (mode !== 'transaction' || code === undefined || !NEEDS_AUTOCOMMIT.has(code)) throw error;
      ctx.logger.warn(
        { event: 'migration.statement-mode', migration: file.name, sqlstate: code },
        `${file.name}: Postgres refused it inside one transaction (${(error as Error).message}); rolled back, running it statement by statement as psql does`,
      );
      mode = 'statements';
      attempts = await runMode(ctx, file, mode, statements);
    }
  } catch (error) {
    throw await migrationFailure(ctx, file, error);
  }
  await resetSession(ctx);
  return { name: file.name, mode, durationMs: Date.now() - started, attempts };
}

/** Turns a failure into the error to surface: file, line, column, SQLSTATE and the next step. */
async function migrationFailure(
  ctx: ApplyContext,
  file: MigrationFile,
  thrown: unknown,
): Promise<PreflightError> {
  const step = thrown instanceof StepFailure ? thrown : new StepFailure(thrown, 0, '');
  const reason: unknown = ctx.signal?.aborted ? ctx.signal.reason : undefined;
  if (reason instanceof PreflightError) {
    const next = step.clean ? ' It runs on the next deploy.' : '';
    return new PreflightError(
      reason.code,
      reason.exitCode,
      `${reason.message}; migration ${file.name}: ${step.outcome}${next}`,
      { cause: reason, details: { migration: file.name } },
    );
  }
  if (step.error instanceof PreflightError) return step.error;
  const outcome = `${step.outcome}${step.clean ? ' Fix the file and deploy again.' : ''}`;
  if (!isPgError(step.error)) {
    return new MigrationError(`migration ${file.name} failed: ${step.message}. ${outcome}`, {
      cause: step.error,
      details: { migration: file.name },
    });
  }
  const password = ctx.session.settings.password;
  // An error outside the file (the history row, COMMIT) has no position in it.
  const located = step.offset === undefined ? { ...step.error, message: step.error.message, position: undefined } : step.error;
  const { text, location } = formatSqlError(
    file.relativePath,
    file.sql,
    located,
    step.offset ?? 0,
    password,
  );
  let extra = '';
  if (step.error.code === LOCK_NOT_AVAILABLE) {
    const blockers =
      step.blockers.length > 0
        ? step.blockers
        : await findBlockers(ctx.session.client).catch(() => []);
    extra = `\n  still blocked after ${ctx.ddlRetries} retries (lock_timeout ${formatDuration(ctx.ddlLockTimeoutMs)}) by ${describeBlockers(blockers)}`;
  } else if (step.error.code === QUERY_CANCELED) {
    extra =
      ctx.statementTimeoutMs !== undefined
        ? `\n  the statement ran longer than --statement-timeout ${formatDuration(ctx.statementTimeoutMs)} (or another session cancelled it)`
        : '\n  another session cancelled the statement';
  }
  return new MigrationError(`migration ${file.name} failed:\n  ${text}${extra}\n${outcome}`, {
    cause: step.error,
    details: {
      migration: file.name,
      sqlstate: step.error.code,
      line: location?.line,
      column: location?.column,
    },
  });
}
