import type pg from 'pg';
import { tableExists } from '../connection/table-exists.js';
import type { Category, Finding } from '../report/findings.js';
import { CATALOG_FINGERPRINT, takeFingerprint, type TakenFingerprint } from './fingerprint.js';
import type { StoredSeedTable } from '../seeds/catalog.js';
import type { Assertion } from './types.js';

/**
 * The last full verification that passed, per expected-schema file: preflight's own table, next
 * to its history table (the first schema of `search_path`). A run whose catalog fingerprint equals
 * the stored one is verifying exactly the catalog that was compared last time, so it skips the
 * catalog query and the comparison; assertions and seed rows (data) are checked on every run.
 */
export const VERIFIED_STATE_TABLE = 'preflight_verification';

/** What a full verification established, replayed when the fingerprint has not moved. */
export interface VerifiedResult {
  /** Warnings only (extra objects without --strict): a result with errors is never stored. */
  readonly findings: Finding[];
  readonly checkedBy: Partial<Record<Category, number>>;
  /** The file's assertions (its hash is the key), so that a match needs no parse of the file. */
  readonly assertions: Assertion[];
  /**
   * The declarative seeds' tables as they were at this verification (run only; checked when read,
   * see seedCatalogFrom): on a match, the seed rows' checks need no catalog query.
   */
  readonly seedTables?: StoredSeedTable[];
}

export interface StoredState {
  readonly fingerprint: string;
  readonly result: VerifiedResult;
  readonly verifiedAt: string;
}

/** The current fingerprint and the stored state of `key`; undefined when there is no table yet. */
export interface Lookup {
  readonly fingerprint: string;
  /**
   * The server's snapshot of transactions (`pg_current_snapshot()`) in the statement that took
   * the fingerprint, when known: see startDigestRead.
   */
  readonly snapshot?: string;
  readonly stored: StoredState | undefined;
}

const CREATE_SQL = `CREATE TABLE IF NOT EXISTS ${VERIFIED_STATE_TABLE} (
  key          text PRIMARY KEY,
  fingerprint  text NOT NULL,
  result       jsonb NOT NULL,
  verified_at  timestamptz NOT NULL DEFAULT now(),
  verified_by  text NOT NULL DEFAULT current_user
)`;

/** How many files' states are kept (one database may be verified against several files). */
const KEEP = 20;

/** Creates the table if it does not exist (by `run`, under the lock, before it fingerprints). */
export async function ensureVerifiedStateTable(client: pg.ClientBase): Promise<void> {
  await client.query(CREATE_SQL);
}

interface LookupRow {
  fingerprint: string;
  snapshot: string | null;
  stored: string | null;
  result: string | null;
  verified_at: string | null;
}

/**
 * The lookup of `key` as one statement (the key inlined, for a simple query that may carry other
 * statements): it fails with 42P01 while the table does not exist. Without `fingerprint`, its
 * column (and the snapshot's) is NULL: the caller took the fingerprint itself (see toLookup).
 */
export function lookupSql(client: pg.ClientBase, key: string, fingerprint = true): string {
  const now = fingerprint ? `(${CATALOG_FINGERPRINT})` : 'NULL::text';
  const snapshot = fingerprint ? 'pg_catalog.pg_current_snapshot()::text' : 'NULL::text';
  return `SELECT ${now} AS fingerprint, ${snapshot} AS snapshot, v.fingerprint AS stored,
  v.result::text AS result,
  to_char(v.verified_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS verified_at
FROM (SELECT 1) AS one LEFT JOIN ${VERIFIED_STATE_TABLE} v ON v.key = ${client.escapeLiteral(key)}`;
}

/**
 * What lookupSql's one row says (with the fingerprint `taken`, and its snapshot, when the caller
 * took it); a stored state that does not read back is no state.
 */
export function toLookup(row: unknown, taken?: TakenFingerprint): Lookup | undefined {
  if (!row) return undefined;
  const { stored, result, verified_at } = row as LookupRow;
  const replay = stored !== null && verified_at !== null ? readResult(result) : undefined;
  const snapshot = taken ? taken.snapshot : ((row as LookupRow).snapshot ?? undefined);
  return {
    fingerprint: taken?.fingerprint ?? (row as LookupRow).fingerprint,
    ...(snapshot !== undefined ? { snapshot } : {}),
    stored:
      replay && stored !== null && verified_at !== null
        ? { fingerprint: stored, result: replay, verifiedAt: verified_at }
        : undefined,
  };
}

/**
 * A stored result as written by storeVerifiedState, or undefined for anything else (a row edited
 * by hand): only warnings, counts, and assertions with a name and SQL.
 */
function readResult(text: string | null): VerifiedResult | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text ?? '');
  } catch {
    return undefined;
  }
  const { findings, checkedBy, assertions, seedTables } = (value ?? {}) as Partial<
    Record<string, unknown>
  >;
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  const valid =
    Array.isArray(findings) &&
    findings.every((f) => isObject(f) && f.severity === 'warning') &&
    isObject(checkedBy) &&
    Object.values(checkedBy).every((n) => typeof n === 'number') &&
    Array.isArray(assertions) &&
    assertions.every(
      (a) => isObject(a) && typeof a.name === 'string' && typeof a.sql === 'string',
    ) &&
    (seedTables === undefined || Array.isArray(seedTables));
  return valid ? (value as VerifiedResult) : undefined;
}

/**
 * Whether an error says that preflight's table cannot serve (missing, altered, not readable or
 * writable by this role, a read-only server): then verification reads the catalog in full. Errors
 * of the connection, of cancellation or of timeouts are not that, and are thrown.
 */
export function isStateTableProblem(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^(22|23|25|42)[0-9A-Z]{3}$/.test(code);
}

/**
 * One round trip: the fingerprint now, and the state stored under `key`; undefined when the table
 * does not exist or cannot serve (see isStateTableProblem).
 */
export async function lookupVerifiedState(
  client: pg.ClientBase,
  key: string,
): Promise<Lookup | undefined> {
  try {
    return toLookup((await client.query(lookupSql(client, key))).rows[0]);
  } catch (error) {
    if (isStateTableProblem(error)) return undefined;
    throw error;
  }
}

/** What takeFingerprintIfRecorded sends: the probe of preflight's table, then the fingerprint. */
export interface RecordedFingerprint {
  /** Whether preflight's table exists (tableExists). */
  readonly recorded: Promise<boolean>;
  /** The fingerprint, taken as soon as the probe shows the table; undefined without it. */
  readonly fingerprint: Promise<TakenFingerprint | undefined>;
}

/**
 * The fingerprint and its statement's snapshot, taken only when preflight's table exists (resolved
 * as the lookup resolves it): without the table there is no state to compare it with, and verify
 * and status record none, so the catalog is not fingerprinted for nothing (a fifth of the server's
 * work of a full verification at 5,000 tables). The probe of the table goes first, on its own:
 * the fingerprint's statement costs a new server process 14 to 18 ms to plan even where a
 * condition keeps it from running, the probe about 1 ms, so that a full read is sent that much
 * sooner. Neither rejection is left unhandled: the caller awaits what it needs.
 */
export function takeFingerprintIfRecorded(client: pg.ClientBase): RecordedFingerprint {
  const recorded = tableExists(client, VERIFIED_STATE_TABLE);
  const fingerprint = recorded.then((exists) => (exists ? takeFingerprint(client) : undefined));
  recorded.catch(() => undefined);
  fingerprint.catch(() => undefined);
  return { recorded, fingerprint };
}

/** Records a passed verification under `key`, keeping the newest states only. */
export async function storeVerifiedState(
  client: pg.ClientBase,
  key: string,
  fingerprint: string,
  result: VerifiedResult,
): Promise<void> {
  const values = [key, fingerprint, JSON.stringify(result)].map((v) => client.escapeLiteral(v));
  await client.query(
    `INSERT INTO ${VERIFIED_STATE_TABLE} (key, fingerprint, result) VALUES (${values.join(', ')}::jsonb)
       ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, result = EXCLUDED.result,
         verified_at = now(), verified_by = current_user;
     DELETE FROM ${VERIFIED_STATE_TABLE} WHERE key NOT IN (
       SELECT key FROM ${VERIFIED_STATE_TABLE} ORDER BY verified_at DESC LIMIT ${KEEP})`,
  );
}
