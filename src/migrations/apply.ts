import type { Session } from '../connection/session.js';
import { sleep } from '../connection/sleep.js';
import { formatDuration } from '../config/duration.js';
import { MigrationError, PreflightError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { describeBlockers, findBlockers } from './blockers.js';
import type { HistoryStore } from './history.js';
import { splitStatements, transactionMode, isTransactionControl, type Statement } from './lexer.js';
import { formatSqlError, isPgError } from './sql-error.js';
import type { MigrationFile } from './types.js';

export interface ApplyContext {
  readonly session: Session;
  readonly store: HistoryStore;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  readonly ddlLockTimeoutMs: number;
  readonly ddlRetries: number;
}

/** What applying one migration did. */
export interface AppliedMigrationResult {
  readonly name: string;
  readonly mode: string;
  readonly durationMs: number;
  readonly attempts: number;
}

const BOM = '\uFEFF';
const LOCK_NOT_AVAILABLE = '55P03';

/** The SQL to execute: the file without its byte-order mark (the checksum keeps it). */
function executableSql(file: MigrationFile): string {
  return file.sql.startsWith(BOM) ? ` ${file.sql.slice(1)}` : file.sql;
}

/** Rethrows the signal's reason when the run was interrupted, so the caller sees the signal, not 57014. */
function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
}

/**
 * Runs `attempt` and retries it with backoff while it fails on lock_timeout, up to `ddlRetries`
 * times, so a deploy never queues behind a long transaction while blocking production traffic.
 */
async function withLockRetry<T>(ctx: ApplyContext, file: MigrationFile, attempt: () => Promise<T>): Promise<{ value: T; attempts: number }> {
  for (let tries = 1; ; tries++) {
    try {
      return { value: await attempt(), attempts: tries };
    } catch (error) {
      throwIfAborted(ctx.signal);
      if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE || tries > ctx.ddlRetries) throw error;
      const delay = Math.min(1000 * 2 ** (tries - 1), 15_000);
      ctx.logger.warn(
        { event: 'migration.lock-retry', migration: file.name, attempt: tries, retryInMs: delay },
        `${file.name}: a table it alters is locked by another session (lock_timeout ${formatDuration(ctx.ddlLockTimeoutMs)}); rolled back, retrying in ${formatDuration(delay)}`,
      );
      await sleep(delay, ctx.signal);
    }
  }
}

/** Turns a failure into a MigrationError with file, line, column, SQLSTATE and what to do next. */
async function migrationFailure(ctx: ApplyContext, file: MigrationFile, error: unknown, offset: number, outcome: string): Promise<PreflightError> {
  if (error instanceof PreflightError) return error;
  if (!isPgError(error)) {
    return new MigrationError(`migration ${file.name} failed: ${(error as Error).message}. ${outcome}`, { cause: error, details: { migration: file.name } });
  }
  const { text, location } = formatSqlError(file.relativePath, executableSql(file), error, offset, ctx.session.settings.password);
  let extra = '';
  if (error.code === LOCK_NOT_AVAILABLE) {
    const blockers = await findBlockers(ctx.session.client).catch(() => []);
    extra = `\n  still blocked after ${ctx.ddlRetries} retries by ${describeBlockers(blockers)}`;
  } else if (error.code === '57014') {
    extra = '\n  the statement ran longer than --statement-timeout';
  }
  return new MigrationError(`migration ${file.name} failed:\n  ${text}${extra}\n${outcome}`, {
    cause: error,
    details: { migration: file.name, sqlstate: error.code, line: location?.line, column: location?.column },
  });
}

/** Applies one file in one transaction together with its history row: whole or not at all. */
async function applyInTransaction(ctx: ApplyContext, file: MigrationFile): Promise<number> {
  const { client } = ctx.session;
  const prefix = 'BEGIN;\n';
  const started = Date.now();
  try {
    await client.query(prefix + executableSql(file));
    await client.query(`${ctx.store.appliedRowSql(client, file, Date.now() - started)}; COMMIT`);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    (error as { preflightOffset?: number }).preflightOffset = -prefix.length;
    throw error;
  }
  return Date.now() - started;
}

/** Runs a file that manages its own transactions (BEGIN/COMMIT) as written, then records it. */
async function applyExplicit(ctx: ApplyContext, file: MigrationFile): Promise<number> {
  const { client } = ctx.session;
  const started = Date.now();
  try {
    await client.query(executableSql(file));
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  await client.query(ctx.store.appliedRowSql(client, file, Date.now() - started));
  return Date.now() - started;
}

/** Invalid indexes named in the statement: what a failed CREATE INDEX CONCURRENTLY leaves behind. */
async function invalidIndexesFrom(ctx: ApplyContext, sql: string): Promise<string[]> {
  const result = await ctx.session.client
    .query<{ name: string; qualified: string }>(
      `SELECT c.relname AS name, i.indexrelid::regclass::text AS qualified FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid`,
    )
    .catch(() => ({ rows: [] as Array<{ name: string; qualified: string }> }));
  const text = sql.toLowerCase();
  return result.rows.filter((r) => text.includes(r.name.toLowerCase())).map((r) => r.qualified);
}

/**
 * Runs a file statement by statement outside a transaction (it holds statements Postgres refuses
 * in one). The row is written first; a failure half-way leaves it failed for a human to resolve.
 */
async function applyStatements(ctx: ApplyContext, file: MigrationFile, statements: readonly Statement[]): Promise<number> {
  const { client } = ctx.session;
  const started = Date.now();
  await ctx.store.ensure(client);
  await ctx.store.recordStarted(client, file);
  for (const [index, statement] of statements.entries()) {
    try {
      await withLockRetry(ctx, file, () => client.query(statement.text));
    } catch (error) {
      const invalid = await invalidIndexesFrom(ctx, statement.text);
      if (index === 0 && invalid.length === 0) {
        await ctx.store.forget(client, file).catch(() => undefined);
        (error as { preflightOffset?: number }).preflightOffset = statement.start;
        throw error;
      }
      const message = (error as Error).message;
      await ctx.store.recordFailed(client, file, message).catch(() => undefined);
      (error as { preflightOffset?: number; preflightInvalid?: string[]; preflightHalfWay?: number }).preflightOffset = statement.start;
      (error as { preflightInvalid?: string[] }).preflightInvalid = invalid;
      (error as { preflightHalfWay?: number }).preflightHalfWay = index;
      throw error;
    }
  }
  await ctx.store.recordFinished(client, file, Date.now() - started);
  return Date.now() - started;
}

/** Whether an explicit-transaction file is one BEGIN ... COMMIT block (then a failure leaves nothing). */
function isSingleBlock(statements: readonly Statement[]): boolean {
  const control = statements.filter((s) => isTransactionControl(s.text));
  return (
    control.length === 2 &&
    statements[0] === control[0] &&
    statements[statements.length - 1] === control[1] &&
    /^(begin|start)/i.test(control[0]?.text ?? '')
  );
}

/** Applies one migration by the mode its SQL requires; throws MigrationError (exit 5) on failure. */
export async function applyMigration(ctx: ApplyContext, file: MigrationFile): Promise<AppliedMigrationResult> {
  const sql = executableSql(file);
  const mode = transactionMode(sql);
  try {
    if (mode === 'transaction') {
      const { value, attempts } = await withLockRetry(ctx, file, () => applyInTransaction(ctx, file));
      return { name: file.name, mode, durationMs: value, attempts };
    }
    const statements = splitStatements(sql);
    if (mode === 'explicit') {
      const retry = isSingleBlock(statements);
      const run = (): Promise<number> => applyExplicit(ctx, file);
      const { value, attempts } = retry ? await withLockRetry(ctx, file, run) : { value: await run(), attempts: 1 };
      return { name: file.name, mode, durationMs: value, attempts };
    }
    const durationMs = await applyStatements(ctx, file, statements);
    return { name: file.name, mode, durationMs, attempts: 1 };
  } catch (error) {
    throwIfAborted(ctx.signal);
    const e = error as { preflightOffset?: number; preflightInvalid?: string[]; preflightHalfWay?: number };
    const outcome = await describeOutcome(ctx, file, mode, sql, e);
    throw await migrationFailure(ctx, file, error, e.preflightOffset ?? 0, outcome);
  }
}

async function describeOutcome(
  ctx: ApplyContext,
  file: MigrationFile,
  mode: string,
  sql: string,
  e: { preflightInvalid?: string[]; preflightHalfWay?: number },
): Promise<string> {
  if (mode === 'transaction') return 'Nothing of it was applied (rolled back). Fix the file and deploy again.';
  if (mode === 'explicit') {
    if (isSingleBlock(splitStatements(sql))) return 'Its transaction was rolled back. Fix the file and deploy again.';
    await ctx.store.ensure(ctx.session.client);
    await ctx.store.recordStarted(ctx.session.client, file).catch(() => undefined);
    return `It manages its own transactions, so part of it may be applied; it is recorded as failed. Check the database, then run \`preflight resolve --rolled-back ${file.name}\` (after undoing its changes) or \`preflight resolve --applied ${file.name}\`.`;
  }
  const invalid = e.preflightInvalid ?? [];
  const left = invalid.length ? ` It left ${invalid.length === 1 ? 'an INVALID index' : 'INVALID indexes'}: ${invalid.join(', ')} (drop with DROP INDEX CONCURRENTLY).` : '';
  if (e.preflightHalfWay === undefined) return `It runs outside a transaction; nothing of it was applied.${left}`;
  return (
    `It runs outside a transaction and stopped at statement ${e.preflightHalfWay + 1}: the statements before it are applied, and it is recorded as failed.${left} ` +
    `Undo or finish its changes by hand, then run \`preflight resolve --rolled-back ${file.name}\` (and deploy a fixed file) or \`preflight resolve --applied ${file.name}\`.`
  );
}
