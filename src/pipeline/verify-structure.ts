import pg from 'pg';
import type { ConnectionSettings } from '../config/database-url.js';
import { clientOptions } from '../connection/connect.js';
import { closeClient, openSession } from '../connection/session.js';
import type { Category } from '../report/findings.js';
import { compareSchema } from '../schema/compare.js';
import type { DigestRow } from '../schema/introspect-queries.js';
import type { ExpectedSource } from '../schema/expected-file.js';
import {
  startDigestRead,
  type Before,
  type DigestRead,
  type Helper,
} from '../schema/introspect.js';
import {
  comparedTables,
  expectedTableDigests,
  planByDigest,
  vouchByDigest,
} from '../schema/table-digest.js';
import { COUNTED, type TableGuide, type TableSlice } from '../schema/table-slices.js';
import {
  byCodePoint,
  namedEntries,
  schemasOf,
  type ExpectedSchema,
  type SchemaSnapshot,
} from '../schema/types.js';
import {
  ensureVerifiedStateTable,
  isStateTableProblem,
  storeVerifiedState,
  VERIFIED_STATE_TABLE,
  type VerifiedResult,
} from '../schema/verified-state.js';
import type { CommandContext } from './context.js';
import {
  precheckMatches,
  precheckVerifiedState,
  verifiedStateKey,
  type Precheck,
} from './precheck.js';
import { tuneForBulkWork } from '../v8-tuning.js';
import { readSeedCatalog, storedSeedCatalog } from '../seeds/catalog.js';
import { declarativeSeeds } from '../seeds/source.js';
import type { SeedFile } from '../seeds/types.js';

/*
 * The structural part of verification: the expected schema against the catalog, or the replay of
 * the last passed comparison when the catalog fingerprint shows that nothing changed since.
 */

/** preflight's own tables (history, verified state): never part of the application's schema. */
const HISTORY_TABLES = ['preflight_migrations', '_prisma_migrations', VERIFIED_STATE_TABLE];

/** Whether a table (its bare name) is one of preflight's own. */
function isHistoryTable(name: string): boolean {
  return HISTORY_TABLES.includes(name);
}

/** Removes the history tables from a snapshot (they exist wherever preflight ran). */
export function withoutHistoryTables(snapshot: SchemaSnapshot): SchemaSnapshot {
  const tables = Object.fromEntries(
    Object.entries(snapshot.tables).filter(
      ([name]) => !isHistoryTable(name.split('.').pop() ?? ''),
    ),
  );
  return { ...snapshot, tables };
}

/** The number of entries of a named collection (an object keyed by name, or a list of names). */
function size(collection: object | undefined): number {
  return collection === undefined ? 0 : Object.keys(collection).length;
}

/** How many objects a file lists, per report category. */
export function countExpected(expected: ExpectedSchema): Partial<Record<Category, number>> {
  const counts: Partial<Record<Category, number>> = {};
  const add = (category: Category, n: number): void => {
    if (n > 0) counts[category] = (counts[category] ?? 0) + n;
  };
  for (const [, table] of namedEntries(expected.tables)) {
    add('tables', 1);
    add('columns', size(table.columns));
    add('indexes', size(table.indexes));
    add('constraints', size(table.constraints));
    add('triggers', size(table.triggers));
    add('policies', size(table.policies));
  }
  add('functions', size(expected.functions));
  add('views', size(expected.views));
  add('sequences', size(expected.sequences));
  add('enums', size(expected.enums));
  add('extensions', size(expected.extensions));
  add('assertions', expected.assertions?.length ?? 0);
  return counts;
}

/**
 * Whether a passed verification is recorded: `create` (run, under the lock: creates preflight's
 * table if needed), `existing` (verify, status: only into an existing table, and a role that may
 * not write it is no error), `never`.
 */
export type RecordMode = 'create' | 'existing' | 'never';

/** The result of parseWhileReading. */
export interface ParsedAndRead {
  /** The file's settings and assertions; its tables are those of `compared`. */
  schema: ExpectedSchema;
  /** countExpected of the whole file, counted while the server reads the catalog. */
  checkedBy: Partial<Record<Category, number>>;
  /** The file without the tables the digests vouch for (compare would find nothing there). */
  compared: ExpectedSchema;
  /** The catalog: the tables not vouched for, and every other object. */
  snapshot: SchemaSnapshot;
  fingerprint: string | undefined;
  vouched: number;
}

/**
 * Reads the catalog by digest (table-digest.ts) and parses the file. When the file says near its
 * top that it is exhaustive and names its schemas (as snapshot writes it), the catalog query is
 * sent first, so that the server reads the catalog meanwhile; a wrong guess is read again. A
 * file laid out as snapshot writes it is not even parsed whole: its tables are found in its bytes
 * (table-slices.ts) as the digests come in, and only the rest of the file (the tables the digests
 * do not vouch for, and every other kind) is parsed, while those tables are read. Any other file
 * is parsed whole while the server works.
 */
export async function parseWhileReading(
  client: pg.ClientBase,
  expected: ExpectedSource,
  before: Before | undefined,
  helper?: Helper,
  fingerprinted = true,
): Promise<ParsedAndRead> {
  // Sent before the file is parsed (the parse holds the event loop), so that the server works
  // meanwhile, for a file that says near its top that it is exhaustive (as snapshot writes it):
  // any other is parsed first, and only the tables it lists are read.
  const hinted = expected.parsed || !expected.exhaustiveHint() ? undefined : expected.schemasHint();
  // With a helper, the session's share is the tables before the first one after this fraction of
  // the file, in name order (as the file has them), the helper's the rest: each share is one
  // stretch of the file, and the session's is read while the helper's is computed. A wrong guess
  // (a file laid out otherwise) only moves the line between the shares. The session takes a
  // smaller share when it takes the fingerprint first (startDigestRead pins a snapshot when
  // nothing is `before`). The two shares are read in two snapshots, as by OID: a table renamed
  // across the line in between is in both (its old name as of the first, its new one an extra
  // table) or in neither (reported missing), and the fingerprints then differ (nothing recorded).
  const fraction = fingerprinted && before === undefined ? 1 / 3 : SESSION_SHARE;
  const splitAt = hinted && helper !== undefined ? expected.tableAfter?.(fraction) : undefined;
  const start = (schemas: readonly string[], only?: readonly string[]) =>
    startDigestRead(client, schemas, before, helper, only, fingerprinted, splitAt);
  const early = hinted
    ? await start(hinted).then(
        (read) => ({ read }),
        (error: unknown) => ({ error }),
      )
    : undefined;
  let slices: Slices | undefined;
  if (early && 'read' in early) {
    try {
      slices = await sliceByShares(expected, early.read, fingerprinted);
    } catch (error) {
      // The file could not be read again, or changed since it was hashed: the read is dropped.
      await early.read.finish(NOTHING).catch(() => undefined);
      throw error;
    }
  }
  if (hinted && early && 'read' in early && slices) {
    // Undefined: the file is not what its head and layout said; parsed whole, and read again.
    const read = await bySlices(expected, early.read, hinted, slices);
    return read ?? parsedWhole(expected, start, undefined, undefined);
  }
  return parsedWhole(expected, start, hinted, early);
}

/**
 * The session's share of the tables, as a fraction of the file (see parseWhileReading): it ends
 * first, by about as long as node's work on its stretch takes (at 5,000 tables, 27/64 was 15 ms
 * slower and 33/64 13 ms slower, medians of 8 runs each).
 */
const SESSION_SHARE = 30 / 64;

/**
 * The file's tables, found as each share of the digests comes in: the server's texts of that
 * share's tables (their lengths and digests) guide the read of its stretch of the file, which
 * looks at no line where the file is what they say (GuidedTables). Where it is not (a table
 * changed, missing or added, another layout), or the read failed, the file is scanned at once
 * (tableSlices), beside the server's work left. With one share (no helper, or shares not split
 * by name), the file is scanned at once, while the server reads: on the other core, node's work
 * then costs no time, where a walk would wait for the answer. `keyed`: a verified state may be
 * recorded under the file's SHA-256, which the walk then takes as it reads (see guideSlices).
 */
async function sliceByShares(
  expected: ExpectedSource,
  read: DigestRead,
  keyed: boolean,
): Promise<Slices | undefined> {
  const walk = read.shares.length > 1 ? expected.guideSlices?.(keyed) : undefined;
  if (walk) {
    try {
      let taken = true;
      for (const share of read.shares) {
        const rows = await share.catch(() => undefined);
        taken = rows !== undefined && walk.next(guideOf(rows));
        if (!taken) break;
      }
      const found = taken ? walk.end() : undefined;
      if (found) return found;
    } finally {
      walk.close();
    }
  }
  return expected.tableSlices?.();
}

/**
 * The server's texts of the tables as a guide to the file (TableGuide): preflight's own tables
 * left out (snapshot leaves them out), in file order.
 */
function guideOf(rows: readonly DigestRow[]): TableGuide[] {
  const guide: TableGuide[] = [];
  // The server sends them in that order where it reads the tables by their names' index.
  let ordered = true;
  for (let i = 0; i < rows.length; i++) {
    const { schema, name, length, digest, counts } = rows[i] as DigestRow;
    if (isHistoryTable(name)) continue;
    const table = { name: `${schema}.${name}`, length, digest, counts };
    const last = guide[guide.length - 1];
    if (last && byCodePoint(last.name, table.name) > 0) ordered = false;
    guide.push(table);
  }
  return ordered ? guide : guide.sort((a, b) => byCodePoint(a.name, b.name));
}

/** The tables of the file found in its bytes, by name. */
type Slices = readonly TableSlice[];

/**
 * parseWhileReading of a file laid out as snapshot writes it, on the read sent for its hinted
 * schemas; undefined when the parse of its rest shows the hint or a slice was wrong (the read is
 * then finished and dropped).
 */
async function bySlices(
  expected: ExpectedSource,
  early: DigestRead,
  hinted: readonly string[],
  slices: Slices,
): Promise<ParsedAndRead | undefined> {
  const digests = new Map<string, string>();
  for (let i = 0; i < slices.length; i++) {
    const { name, digest } = slices[i] as TableSlice;
    digests.set(name, digest);
  }
  let rest: ExpectedSchema | undefined;
  const { snapshot, fingerprint, plan } = await early.finish(
    (actual) => vouchByDigest(digests, actual, isHistoryTable),
    ({ vouched }) => {
      // Parsed while the tables the digests do not vouch for are read in full.
      rest = expected.schemaWithout?.(slices.filter(({ name }) => vouched.has(name)));
    },
  );
  if (!rest || rest.exhaustive !== true || hinted.join('\u0000') !== schemasOf(rest).join('\u0000'))
    return undefined;
  const checkedBy = countExpected(rest);
  addCounts(checkedBy, slices, plan.vouched);
  return {
    schema: rest,
    checkedBy,
    compared: rest,
    snapshot,
    fingerprint,
    vouched: plan.vouched.size,
  };
}

/** Adds the tables `vouched` names and their collections' entries (TableSlice's counts) to `counts`. */
function addCounts(
  counts: Partial<Record<Category, number>>,
  slices: Slices,
  vouched: ReadonlySet<string>,
): void {
  const sums = COUNTED.map(() => 0);
  let tables = 0;
  for (let i = 0; i < slices.length; i++) {
    const slice = slices[i] as TableSlice;
    if (!vouched.has(slice.name)) continue;
    tables++;
    for (let at = 0; at < sums.length; at++)
      sums[at] = (sums[at] as number) + (slice.counts[at] ?? 0);
  }
  if (tables > 0) counts.tables = (counts.tables ?? 0) + tables;
  COUNTED.forEach((category, at) => {
    const n = sums[at] ?? 0;
    if (n > 0) counts[category] = (counts[category] ?? 0) + n;
  });
}

/** parseWhileReading of a file parsed whole (the early read used when its hint was right). */
async function parsedWhole(
  expected: ExpectedSource,
  start: (schemas: readonly string[], only?: readonly string[]) => Promise<DigestRead>,
  hinted: readonly string[] | undefined,
  early: { read: DigestRead } | { error: unknown } | undefined,
): Promise<ParsedAndRead> {
  let schema: ExpectedSchema;
  let digests: ReadonlyMap<string, string>;
  let checkedBy: Partial<Record<Category, number>>;
  try {
    schema = expected.schema();
    // Printed from the parsed tables, never taken from the file's bytes: only a parse can tell
    // which of two `tables` keys counts (bySlices checks its slices by a parse of the rest).
    digests = expectedTableDigests(schema);
    checkedBy = countExpected(schema);
  } catch (error) {
    if (early && 'read' in early) await early.read.finish(NOTHING).catch(() => undefined);
    throw error;
  }
  const schemas = schemasOf(schema);
  let read: DigestRead;
  if (early && hinted?.join('\u0000') === schemas.join('\u0000')) {
    if ('error' in early) throw early.error;
    read = early.read;
  } else {
    if (early && 'read' in early) await early.read.finish(NOTHING).catch(() => undefined);
    // The file is parsed already: only the digests of the tables compare looks at.
    read = await start(schemas, comparedTables(schema));
  }
  const { snapshot, fingerprint, plan } = await read.finish((actual) =>
    planByDigest(schema, digests, actual, isHistoryTable),
  );
  return {
    schema,
    checkedBy,
    snapshot,
    fingerprint,
    compared: plan.expected,
    vouched: plan.vouched,
  };
}

/** The plan of a read whose result is dropped: no table read in full. */
const NOTHING = (): { read: number[] } => ({ read: [] });

/** From this size of expected-schema file on (about 1,000 tables), the catalog is read on two connections. */
const SPLIT_BYTES = 4 * 1024 * 1024;

/** Whether the file describes a large schema (see SPLIT_BYTES). */
export function isLarge(expected: ExpectedSource): boolean {
  return expected.size >= SPLIT_BYTES;
}

/**
 * A second connection for the catalog of a large schema (see startDigestRead), with the
 * session's statement_timeout, as it connects. Undefined at once for a small schema (or no
 * database): its digests are one statement on the session. The connection resolves to undefined
 * when it cannot connect (then the session reads the helper's share too).
 */
export function catalogHelper(
  ctx: CommandContext,
  expected: ExpectedSource,
): Promise<pg.Client | undefined> | undefined {
  const settings = ctx.config.database;
  return settings && opensHelper(ctx, expected) ? connectHelper(ctx, settings) : undefined;
}

/** Whether catalogHelper opens a connection for this file (a large one, with a database). */
function opensHelper(ctx: CommandContext, expected: ExpectedSource): boolean {
  return ctx.config.database !== undefined && isLarge(expected);
}

async function connectHelper(
  ctx: CommandContext,
  settings: ConnectionSettings,
): Promise<pg.Client | undefined> {
  const client = new pg.Client(clientOptions(settings, 5000));
  client.on('error', () => undefined);
  try {
    await client.connect();
    await openSession(client, settings, ctx.config.statementTimeoutMs, ctx.config.ddlLockTimeoutMs);
    return client;
  } catch (error) {
    ctx.logger.debug(
      { event: 'verify.helper-skipped', reason: (error as Error).message },
      'the catalog is read on one connection',
    );
    await client.end().catch(() => undefined);
    return undefined;
  }
}

/**
 * catalogHelper for a verification whose precheck is still out: opened as soon as the precheck
 * shows that the catalog is to be read in full (not unchanged since its last verification), so
 * that it connects while the session reads the history, not after. Undefined for a small schema
 * (see isLarge). The caller ends it (endHelper) once the verification is over.
 */
export function helperAfter(
  ctx: CommandContext,
  expected: ExpectedSource | undefined,
  precheck: Promise<Precheck | undefined>,
): Promise<pg.Client | undefined> | undefined {
  if (!expected || !opensHelper(ctx, expected)) return undefined;
  return precheck.then(
    (checked) => (precheckMatches(checked) ? undefined : catalogHelper(ctx, expected)),
    () => undefined,
  );
}

/**
 * Ends a helper connection (catalogHelper, helperAfter) once it has connected, if it did. Holding
 * nothing, it does not wait for the server to close its end (see closeClient).
 */
export async function endHelper(helper: Promise<pg.Client | undefined> | undefined): Promise<void> {
  const client = await helper?.catch(() => undefined);
  if (client) await closeClient(client, { linger: false });
}

/** What a verification may be given besides the file (see verifyStructure). */
export interface StructureOptions {
  /** The lookup of the file's verified state, made before (else made here). */
  readonly precheck?: Precheck;
  /** The seeds, whose tables' catalog a recorded pass keeps when they are all declarative. */
  readonly seeds?: readonly SeedFile[];
  /**
   * A second connection for the catalog read, already opening (helperAfter); its opener ends it.
   * Without one, a large schema's read opens and ends its own.
   */
  readonly helper?: Promise<pg.Client | undefined>;
}

/**
 * Compares the catalog with the file, or replays the last passed comparison when the catalog
 * fingerprint shows that nothing changed since (unless --full-verify). Records a pass as `record`
 * says. Returns the structural findings, the counts and the file's assertions.
 */
export async function verifyStructure(
  ctx: CommandContext,
  client: pg.ClientBase,
  expected: ExpectedSource,
  record: RecordMode,
  { precheck, seeds, helper: given }: StructureOptions = {},
): Promise<VerifiedResult> {
  const checked = precheck ?? (await precheckVerifiedState(ctx, client, expected));
  const stored = checked?.lookup?.stored;
  if (stored && precheckMatches(checked)) {
    ctx.report.verification = {
      findings: [],
      checked: 0,
      method: 'fingerprint',
      verifiedAt: stored.verifiedAt,
    };
    ctx.logger.debug(
      { event: 'verify.fingerprint', verifiedAt: stored.verifiedAt },
      `catalog unchanged since its full verification at ${stored.verifiedAt}`,
    );
    return stored.result;
  }
  await tuneForBulkWork(isLarge(expected));
  // Before the fingerprint is taken: creating the table is a change of the catalog.
  const creates = record === 'create' && checked?.lookup === undefined;
  const notRecorded = (error: unknown): false => {
    if (!isStateTableProblem(error)) throw error;
    // Never a reason to fail a verification: the next one reads the catalog in full again. For
    // verify and status (no table yet, a read-only role or standby) that is expected.
    const log = record === 'create' ? ctx.logger.warn : ctx.logger.debug;
    log.call(
      ctx.logger,
      { event: 'verify.not-recorded', reason: (error as Error).message },
      `verified state not recorded (${(error as Error).message}): the next verification reads the catalog in full`,
    );
    return false;
  };
  const recordable =
    record !== 'never' &&
    (!creates || (await ensureVerifiedStateTable(client).then(() => true, notRecorded)));
  // The lookup's fingerprint was taken just now (run passes one only when nothing changed since):
  // it serves as the one before the catalog query.
  const before = creates ? undefined : checked?.lookup;
  // Nothing can be recorded (see Precheck's noTable): no fingerprint is taken for it.
  const noTable = record === 'existing' && checked?.noTable === true;
  const fingerprinted = recordable && !noTable;
  if (noTable)
    ctx.logger.debug(
      { event: 'verify.not-fingerprinted' },
      `${VERIFIED_STATE_TABLE} does not exist: this verification is not recorded, so the catalog is not fingerprinted`,
    );
  // Not awaited: the session's share of the catalog goes out while the helper connects.
  const own = given ? undefined : catalogHelper(ctx, expected);
  const { schema, checkedBy, compared, snapshot, fingerprint, vouched } = await parseWhileReading(
    client,
    expected,
    before,
    given ?? own,
    fingerprinted,
  ).finally(() => endHelper(own));
  ctx.logger.debug(
    { event: 'verify.digests', vouched, read: Object.keys(snapshot.tables).length },
    `${vouched} tables matched the file by digest; the others were read and compared in full`,
  );
  const findings = compareSchema(compared, withoutHistoryTables(snapshot), {
    strict: ctx.config.strict,
  });
  const result: VerifiedResult = {
    findings,
    checkedBy,
    assertions: [...(schema.assertions ?? [])],
  };
  ctx.report.verification = { findings: [], checked: 0, method: 'catalog' };
  const passed = findings.every((f) => f.severity !== 'error');
  if (passed && fingerprint !== undefined && recordable) {
    const key = verifiedStateKey(expected, ctx.config.strict);
    // Read after the fingerprint, like the catalog: kept only with the state it was read in.
    const declarative = declarativeSeeds(seeds ?? []);
    const seedTables =
      declarative.length > 0 && declarative.length === seeds?.length
        ? storedSeedCatalog(await readSeedCatalog(client, declarative))
        : undefined;
    await storeVerifiedState(client, key, fingerprint, {
      ...result,
      ...(seedTables ? { seedTables } : {}),
    }).catch(notRecorded);
  }
  return result;
}
