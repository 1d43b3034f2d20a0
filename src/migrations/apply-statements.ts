import type pg from 'pg';
import type { Session } from '../connection/session.js';
import type { Logger } from '../log/logger.js';
import type { HistoryStore } from './history.js';
import { isConcurrent, transactionControlKind, type Statement } from './lexer.js';
import { LockRetry, StepFailure, type RetrySettings } from './lock-retry.js';
import type { MigrationFile } from './types.js';

/** What running a migration needs: the session holding the lock, the history, the settings. */
export interface ApplyContext extends RetrySettings {
  readonly session: Session;
  readonly store: HistoryStore;
  readonly logger: Logger;
  /** The session's statement_timeout, restored after each migration (undefined: off). */
  readonly statementTimeoutMs?: number;
}

/** Where the run is in the file's own transaction blocks. */
interface BlockState {
  inBlock: boolean;
  /** Index of the BEGIN of the open block: a lock timeout inside it retries from there. */
  blockStart: number;
  /** Something was committed (a statement outside a block, or a block's COMMIT). */
  changed: boolean;
}

interface StatementFailure {
  readonly error: unknown;
  /** INVALID indexes that a failed concurrent statement left behind. */
  readonly invalid: readonly string[];
}

// The history row is written where the migration left the session: its search_path and role
// would decide which table the row goes to, so both return to the session's own for the row.
const SESSION_DEFAULTS = 'SET LOCAL search_path TO DEFAULT; SET LOCAL role TO DEFAULT';

/** SQL that records a finished migration inside the transaction that applied it. */
export function historyRowSql(ctx: ApplyContext, file: MigrationFile, started: number): string {
  const row = ctx.store.appliedRowSql(ctx.session.client, file, Date.now() - started);
  return `${SESSION_DEFAULTS}; ${row}`;
}

/** Returns the session to its own search_path and role before a history write outside a transaction. */
async function restoreSessionDefaults(client: pg.ClientBase): Promise<void> {
  await client.query('RESET search_path; RESET ROLE').catch(() => undefined);
}

/** Rolls back whatever transaction is open; harmless when none is. */
export async function rollback(client: pg.ClientBase): Promise<void> {
  await client.query('ROLLBACK').catch(() => undefined);
}

async function invalidIndexes(client: pg.ClientBase): Promise<string[]> {
  const result = await client.query<{ name: string }>(
    'SELECT indexrelid::regclass::text AS name FROM pg_index WHERE NOT indisvalid',
  );
  return result.rows.map((r) => r.name);
}

/**
 * Runs one statement. A concurrent statement runs without lock_timeout: its locks never block
 * reads or writes, and a lock timeout half-way would leave an INVALID index behind.
 */
async function runStatement(
  ctx: ApplyContext,
  retry: LockRetry,
  text: string,
): Promise<StatementFailure | undefined> {
  const { client } = ctx.session;
  const concurrent = isConcurrent(text);
  let before: string[] = [];
  let previous: string | undefined;
  try {
    if (concurrent) {
      before = await invalidIndexes(client);
      const result = await client.query<{ previous: string }>(
        "SELECT current_setting('lock_timeout') AS previous, set_config('lock_timeout', '0', false)",
      );
      previous = result.rows[0]?.previous;
    }
    await retry.run(() => client.query(text));
    return undefined;
  } catch (error) {
    const after = concurrent ? await invalidIndexes(client).catch(() => before) : before;
    return { error, invalid: after.filter((name) => !before.includes(name)) };
  } finally {
    if (previous !== undefined) {
      await client
        .query("SELECT set_config('lock_timeout', $1, false)", [previous])
        .catch(() => undefined);
    }
  }
}

function track(state: BlockState, statement: Statement, index: number): void {
  const kind = transactionControlKind(statement.text);
  if (kind === 'begin') {
    state.inBlock = true;
    state.blockStart = index;
  } else if (kind === 'commit' || kind === 'chain') {
    state.changed ||= state.inBlock;
    state.inBlock = kind === 'chain';
    state.blockStart = index + 1;
  } else if (kind === 'rollback') {
    state.inBlock = false;
  } else if (!state.inBlock) {
    state.changed = true;
  }
}

/** Whether a file is one BEGIN ... COMMIT block and nothing else: then it can be recorded inside it. */
export function isSingleBlock(statements: readonly Statement[]): boolean {
  const kinds = statements.map((s) => transactionControlKind(s.text));
  const controls = kinds.filter((k) => k !== undefined);
  return (
    statements.length >= 2 &&
    controls.length === 2 &&
    kinds[0] === 'begin' &&
    kinds[kinds.length - 1] === 'commit'
  );
}

function leftInvalid(invalid: readonly string[]): string {
  if (invalid.length === 0) return '';
  const drops = invalid.map((name) => `DROP INDEX CONCURRENTLY ${name};`).join(' ');
  return ` It left ${invalid.length === 1 ? 'an INVALID index' : 'INVALID indexes'} behind: ${invalid.join(', ')}; drop ${invalid.length === 1 ? 'it' : 'them'} (\`${drops}\`) before running the migration again.`;
}

/** Decides and records what a failure half-way leaves: nothing (row removed) or a failed row. */
async function failureOutcome(
  ctx: ApplyContext,
  file: MigrationFile,
  statements: readonly Statement[],
  index: number,
  failure: StatementFailure,
  state: BlockState,
  atomic: boolean,
  offset = (statements[index] as Statement).start,
): Promise<StepFailure> {
  const { client } = ctx.session;
  const statement = statements[index] as Statement;
  if (atomic) {
    return new StepFailure(
      failure.error,
      offset,
      'Its transaction (the BEGIN ... COMMIT of the file) was rolled back: nothing of it was applied.',
      true,
    );
  }
  const where = `statement ${index + 1} of ${statements.length} (line ${statement.line})`;
  await restoreSessionDefaults(client);
  if (!state.changed && failure.invalid.length === 0) {
    await ctx.store.forget(client, file).catch(() => undefined);
    return new StepFailure(
      failure.error,
      offset,
      `It runs outside a single transaction and stopped at ${where} before anything was committed: nothing of it was applied.`,
      true,
    );
  }
  const message = failure.error instanceof Error ? failure.error.message : String(failure.error);
  const code = (failure.error as { code?: string }).code;
  await ctx.store
    .recordFailed(client, file, `${code ? `${code}: ` : ''}${message} (at ${where})`)
    .catch(() => undefined);
  return new StepFailure(
    failure.error,
    offset,
    `It runs outside a single transaction and stopped at ${where}: what ran before stays applied, and it is recorded as failed.${leftInvalid(failure.invalid)} ` +
      `Finish or undo its changes by hand, then run \`preflight resolve --applied ${file.name}\` (finished by hand) ` +
      `or \`preflight resolve --rolled-back ${file.name}\` (undone; the next deploy runs the file again).`,
  );
}

/**
 * Runs a migration statement by statement, as `psql -f` does: each statement on its own, except
 * inside the file's own BEGIN ... COMMIT blocks. A file that is one such block (`atomic`) gets
 * its history row inside the block, so it is applied and recorded whole or not at all; any other
 * file is recorded as started first and finished at the end, so a stop half-way leaves a failed
 * row. A lock timeout rolls back and retries the statement, or the open block from its BEGIN.
 * Returns the number of attempts; throws StepFailure.
 */
export async function applyStatements(
  ctx: ApplyContext,
  file: MigrationFile,
  statements: readonly Statement[],
  atomic: boolean,
): Promise<number> {
  const { client } = ctx.session;
  const retry = new LockRetry(ctx, file.name);
  const started = Date.now();
  if (!atomic) await ctx.store.recordStarted(client, file);
  const state: BlockState = { inBlock: false, blockStart: 0, changed: false };
  for (let i = 0; i < statements.length; i++) {
    const statement = statements[i] as Statement;
    // The final COMMIT of an atomic file carries the history row into the file's transaction.
    const row = atomic && i === statements.length - 1 ? `${historyRowSql(ctx, file, started)};\n` : '';
    const text = row + statement.text;
    if (ctx.signal?.aborted) {
      // Interrupted between statements: stop here as if this statement had failed.
      const failure = { error: ctx.signal.reason, invalid: [] };
      if (state.inBlock) await rollback(client);
      throw await failureOutcome(ctx, file, statements, i, failure, state, atomic);
    }
    const failure = await runStatement(ctx, retry, text);
    if (!failure) {
      track(state, statement, i);
      continue;
    }
    const inBlock = state.inBlock;
    if (inBlock) await rollback(client);
    state.inBlock = false;
    if (await retry.shouldRetry(failure.error)) {
      i = (inBlock ? state.blockStart : i) - 1;
      continue;
    }
    state.inBlock = inBlock;
    const offset = statement.start - row.length;
    const stepFailure = await failureOutcome(ctx, file, statements, i, failure, state, atomic, offset);
    stepFailure.blockers = retry.blockers;
    throw stepFailure;
  }
  if (state.inBlock) {
    await rollback(client);
    const begin = statements[state.blockStart] as Statement;
    const error = new Error(
      `${file.relativePath} opens a transaction (BEGIN at line ${begin.line}) and never commits it; add COMMIT; at its end`,
    );
    throw await failureOutcome(
      ctx,
      file,
      statements,
      state.blockStart,
      { error, invalid: [] },
      state,
      atomic,
    );
  }
  if (!atomic) {
    await restoreSessionDefaults(client);
    await ctx.store.recordFinished(client, file, Date.now() - started);
  }
  return retry.retries + 1;
}
