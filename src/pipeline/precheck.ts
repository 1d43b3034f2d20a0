import { createHash } from 'node:crypto';
import type pg from 'pg';
import { isUndefinedTable, type HistoryStore } from '../migrations/history.js';
import type { AppliedMigration } from '../migrations/types.js';
import type { ExpectedSource } from '../schema/expected-file.js';
import type { TakenFingerprint } from '../schema/fingerprint.js';
import { isStateTableProblem, lookupSql, toLookup, type Lookup } from '../schema/verified-state.js';
import { BUILD, VERSION } from '../version.js';
import type { CommandContext } from './context.js';

/*
 * The lookup of the verified state, before the verification itself: whether the catalog is
 * exactly the one that passed the last full verification against the same file.
 */

/** The key of a file's verified state: the file, the comparison's options, preflight's version and build. */
export function verifiedStateKey(expected: ExpectedSource, strict: boolean): string {
  return createHash('sha256')
    .update(`${VERSION}+${BUILD}\n${strict ? 'strict' : 'lenient'}\n${expected.sha256}`)
    .digest('hex');
}

/**
 * The fingerprint lookup of a file (see verified-state.ts), made before the verification itself
 * when the caller can: `lookup` is undefined when preflight's table does not exist yet.
 */
export interface Precheck {
  readonly lookup: Lookup | undefined;
  /**
   * preflight's table does not exist: a verification that records only into an existing one
   * (verify, status) records nothing, so it takes no catalog fingerprint at all; `run` creates it
   * without a lookup of it after its migrations (see runCommand).
   */
  readonly noTable?: boolean;
}

/**
 * Looks up the file's verified state now (undefined under --full-verify: nothing to look up); no
 * lookup when preflight's table cannot serve, and `noTable` when it does not exist.
 */
export async function precheckVerifiedState(
  ctx: CommandContext,
  client: pg.ClientBase,
  expected: ExpectedSource,
): Promise<Precheck | undefined> {
  if (ctx.config.fullVerify) return undefined;
  const { row, missing } = await sendLookup(ctx, client, expected, true);
  if (row !== undefined) return { lookup: toLookup(row) };
  return missing ? { lookup: undefined, noTable: true } : { lookup: undefined };
}

/** What a read-only command (verify, status) sends as soon as its session opens. */
export interface EarlyFingerprint {
  /**
   * The catalog fingerprint, when a lookup of the file's verified state will follow: undefined
   * when preflight's table did not exist (see takeFingerprintIfRecorded).
   */
  readonly fingerprint: Promise<TakenFingerprint | undefined> | undefined;
  /**
   * Whether preflight's table exists, from the probe sent ahead of the fingerprint: the lookup
   * goes out only once it says so, so that a database without the table never sees (nor logs as
   * an error) a lookup of it. Taken as true when absent.
   */
  readonly recorded?: Promise<boolean>;
  /**
   * Aborted once the probe shows there is nothing to look up: the file's hash for the key stops,
   * or does not start when the file is read after that answer.
   */
  readonly stop?: AbortSignal;
}

/**
 * verify's and status's lookup of the file's verified state, sent behind the fingerprint that
 * readWhileConnecting sent: as soon as the file is hashed for its key (readWhileConnecting starts
 * that, a chunk per turn of the event loop) while the fingerprint is still out, else once the
 * fingerprint shows preflight's table exists. Without the table there is nothing to look up: the
 * precheck says so as soon as the fingerprint's answer does, without waiting for the hash or a
 * lookup, and the full verification that follows starts at once (a table created since is only
 * not recorded into). Resolves to undefined when there is nothing to look up (no file,
 * --full-verify), and to no lookup when preflight's table does not exist or cannot serve (see
 * isStateTableProblem).
 */
export function lookupBehind(
  ctx: CommandContext,
  client: pg.ClientBase,
  expected: ExpectedSource | undefined,
  early: EarlyFingerprint,
): Promise<Precheck | undefined> {
  const { fingerprint } = early;
  if (!expected || !fingerprint) return Promise.resolve(undefined);
  let lookup: Promise<SentLookup> | undefined;
  const send = (): Promise<SentLookup> => (lookup ??= sendLookup(ctx, client, expected));
  let answered = false;
  const hashed = expected.hash?.(early.stop) ?? Promise.resolve(expected.sha256);
  // Hashed while the fingerprint is out: the lookup goes right behind it, as if sent with it,
  // once the probe has shown the table. A hash that stopped (no table) sends nothing.
  Promise.all([hashed, early.recorded ?? true]).then(
    ([sha256, table]) => {
      if (!answered && sha256 !== undefined && table) send().catch(() => undefined);
    },
    () => undefined,
  );
  const precheck = fingerprint.then(async (taken): Promise<Precheck> => {
    answered = true;
    if (taken === undefined) return { lookup: undefined, noTable: true };
    await hashed;
    const sent = await send();
    if (sent.row === undefined) return { lookup: undefined, noTable: sent.missing };
    return { lookup: toLookup(sent.row, taken) };
  });
  // Awaited by the caller once the history is read; a failure before then is not unhandled.
  precheck.catch(() => undefined);
  return precheck;
}

/** What sendLookup read: the row of the file's key, undefined when preflight's table cannot serve. */
export interface SentLookup {
  readonly row: unknown;
  /** Whether the table does not exist (42P01), when `row` is undefined. */
  readonly missing: boolean;
}

/**
 * Sends the lookup of the file's verified state now (without the fingerprint unless `fingerprint`:
 * by default the caller takes it apart). Its `row` is undefined when preflight's table does not
 * exist or cannot serve (see isStateTableProblem); other errors reject.
 */
export function sendLookup(
  ctx: CommandContext,
  client: pg.ClientBase,
  expected: ExpectedSource,
  fingerprint = false,
): Promise<SentLookup> {
  const key = verifiedStateKey(expected, ctx.config.strict);
  return client.query(lookupSql(client, key, fingerprint)).then(
    ({ rows }) => ({ row: rows[0] as unknown, missing: false }),
    (error: unknown) => {
      if (isStateTableProblem(error)) return { row: undefined, missing: isUndefinedTable(error) };
      throw error;
    },
  );
}

/**
 * `run`'s first reads under the lock when its first try did not get it: the history and the
 * fingerprint lookup, sent together on the pipelined session (one round trip), so that the server
 * works while the caller reads the migration files. Each is a statement of its own: on a first
 * deploy, a table that does not exist fails its own read alone, once (the history is then empty,
 * and the lookup says `noTable`).
 */
export async function readHistoryAndPrecheck(
  ctx: CommandContext,
  client: pg.ClientBase,
  store: HistoryStore,
  expected: ExpectedSource | undefined,
): Promise<{ history: AppliedMigration[]; precheck: Precheck | undefined }> {
  const history = store.read(client);
  const precheck = expected ? precheckVerifiedState(ctx, client, expected) : undefined;
  // Awaited below, after the history: a failure meanwhile is not unhandled.
  precheck?.catch(() => undefined);
  return { history: await history, precheck: await precheck };
}

/** Whether a precheck found the catalog exactly as it was at the file's last passed verification. */
export function precheckMatches(precheck: Precheck | undefined): boolean {
  const lookup = precheck?.lookup;
  return lookup?.stored !== undefined && lookup.stored.fingerprint === lookup.fingerprint;
}
