import type pg from 'pg';
import { tryLock, type LockTry } from '../lock/advisory-lock.js';
import type { CommandContext } from '../pipeline/context.js';
import { takeFingerprint, type TakenFingerprint } from '../schema/fingerprint.js';
import {
  readListedMigrations,
  readMigrationsDirectory,
  type MigrationListing,
} from '../migrations/source.js';
import type { AppliedMigration, Layout } from '../migrations/types.js';
import { seedCatalogFrom } from '../seeds/catalog.js';
import { declarativeSeeds } from '../seeds/source.js';
import type { SeedFile } from '../seeds/types.js';
import type { ExpectedSource } from '../schema/expected-file.js';
import {
  applyPending,
  assertNoConflicts,
  historyStore,
  listMigrationsStep,
  planFromHistory,
} from '../pipeline/migrate-step.js';
import {
  checkSeedRowsAhead,
  checkSeedRowsEarly,
  loadSeeds,
  seedDatabase,
  seedRowsCheck,
} from '../pipeline/seed-step.js';
import { expectedFileMayExist, loadExpectedNow, verifyDatabase } from '../pipeline/verify-step.js';
import { isLarge } from '../pipeline/verify-structure.js';
import {
  precheckMatches,
  readHistoryAndPrecheck,
  sendLookup,
  type Precheck,
  type SentLookup,
} from '../pipeline/precheck.js';
import { runAssertionsAhead } from '../schema/assertions.js';
import { toLookup, type StoredState } from '../schema/verified-state.js';
import { verifySeedRows } from '../seeds/verify-rows.js';
import type { Finding } from '../report/findings.js';
import { tuneForBulkWork } from '../v8-tuning.js';
import { loginFirst } from '../pipeline/session-scope.js';
import { withCheckedLock } from './migrate.js';

/**
 * The largest expected-schema file hashed while the server logs in (about 2 ms at 4 MiB), for the
 * lookup of its verified state to go out before the fingerprint.
 */
const HASHED_BEFORE_LOGIN = 4 * 1024 * 1024;

/**
 * `preflight run`: migrate, seed and verify under the advisory lock; returns 0 when the
 * database is in sync, throws the typed error of the step that failed otherwise.
 *
 * Everything that can go wrong in the files is found before anything changes: the migrations
 * directory, the seeds and the expected-schema file's bytes while connecting; the migration
 * files' contents and the expected-schema file's validity under the lock, before migrating. When
 * nothing is pending, no seed is SQL (declarative rows change no catalog) and the catalog's
 * fingerprint matches a passed verification against this very file, the file is not parsed.
 */
export async function runCommand(ctx: CommandContext): Promise<number> {
  // The files are read while connecting; the migrations' contents are read under the lock, below.
  // Once the directory is read (its layout names the lock) and the session's settings are sent, the
  // first try of the lock goes out behind them, then the history, the lookup of the expected-schema
  // file's verified state (behind the fingerprint instead when the file is over
  // HASHED_BEFORE_LOGIN) and the catalog fingerprint. Granted at once, the lock is held when the
  // server reads them, and the history and the lookup are here while it takes the fingerprint
  // (the slowest of them). Not granted at once, they are of no use and read again.
  const prepare = async (connected: Promise<pg.Client>): Promise<Prepared> => {
    const directory = readMigrationsDirectory(ctx.config.migrations.path);
    const store = historyStore(directory.layout);
    const fingerprinting = !ctx.config.fullVerify && expectedFileMayExist(ctx);
    // Read now, while the server logs in, and hashed for the lookup's key unless large (then the
    // lookup follows the fingerprint); its errors come after those of the steps before it.
    const { source, reading } = loadExpectedNow(ctx);
    const read = source && source.size <= HASHED_BEFORE_LOGIN ? source : undefined;
    void read?.sha256;
    const sent = connected.then((client) => {
      const lock = tryLock(client, store.lockKey);
      const history = store.read(client);
      const lookup = fingerprinting && read ? sendLookup(ctx, client, read) : undefined;
      const fingerprint = fingerprinting ? takeFingerprint(client) : undefined;
      for (const query of [lock, history, lookup, fingerprint]) query?.catch(() => undefined);
      return { client, lock, history, lookup, fingerprint };
    });
    const firstTry = sent.then((s) => s.lock);
    sent.catch(() => undefined);
    firstTry.catch(() => undefined);
    // The login first (see loginFirst): the first try of the lock and the reads behind it go out
    // as soon as it is done, and the server answers them while the files are read here.
    await loginFirst(sent);
    const listing = listMigrationsStep(ctx, directory);
    // A turn of the event loop between the steps, for whatever the connection has to do.
    await new Promise((resolve) => setImmediate(resolve));
    const seeds = loadSeeds(ctx);
    const expected = await reading;
    const lookup = sent.then((s) =>
      s.fingerprint && expected ? (s.lookup ?? sendLookup(ctx, s.client, expected)) : undefined,
    );
    lookup.catch(() => undefined);
    return { listing, layout: listing.layout, seeds, expected, firstTry, sent, lookup };
  };
  await withCheckedLock(ctx, prepare, async (session, held, prepared, granted) => {
    const { listing, seeds, expected } = prepared;
    // Granted at once, the history and the lookup were read under the lock, and the migration
    // files are read here while the server takes the fingerprint. Else both are read now, in one
    // round trip (the lookup in vain when something turns out to be pending), while the files are
    // read here; the lock check runs alongside.
    const first = granted.atOnce
      ? prepared.sent.then((sent) => readsOfFirstTry(sent, prepared.lookup))
      : readHistoryAndPrecheck(ctx, session.client, historyStore(listing.layout), expected).then(
          ({ history, precheck }) => ({
            history,
            state: Promise.resolve(undefined),
            precheck: Promise.resolve(precheck),
            noTable: Promise.resolve(precheck?.noTable === true),
          }),
        );
    first.catch(() => undefined);
    const set = readListedMigrations(listing);
    const reads = await first;
    const plan = planFromHistory(ctx, set, reads.history);
    assertNoConflicts(plan);
    // Nothing to apply and no seed that is SQL: the catalog may be the one of a passed verification.
    const unchanged =
      expected !== undefined && plan.pending.length === 0 && !seeds?.some((s) => s.kind === 'sql');
    // Its seed rows' checks and assertions go out now, while the fingerprint is taken.
    const stored = unchanged ? await reads.state : undefined;
    const ahead = stored ? sendAhead(session.client, seeds, stored) : undefined;
    let precheck: Precheck | undefined;
    if (expected) {
      if (unchanged) precheck = await reads.precheck;
      // preflight's table did not exist under the lock (a first deploy): a lookup after the
      // migrations could only fail (and the server log it); the verification creates the table.
      else if (await reads.noTable) precheck = { lookup: undefined, noTable: true };
      if (!precheckMatches(precheck)) {
        await tuneForBulkWork(isLarge(expected));
        expected.schema();
      }
    }
    const matched = precheckMatches(precheck) ? precheck?.lookup?.stored : undefined;
    const inUse = ahead && ahead.stored === matched ? ahead : undefined;
    // The catalog is the one of a passed verification that kept the seeds' tables: their rows'
    // checks go out now, all at once, with no catalog query (read-only; see seedDatabase).
    const known =
      matched && !inUse && seeds
        ? seedCatalogFrom(matched.result.seedTables, declarativeSeeds(seeds))
        : undefined;
    const seedRows = inUse
      ? inUse.seedRows?.then((found) => found ?? verifySeedRows(session.client, seeds ?? []))
      : known && checkSeedRowsEarly(session.client, seeds, known);
    await held;
    await applyPending(ctx, session, set, plan);
    const rowsInPlace = seeds ? await seedDatabase(ctx, session, seeds, seedRows) : undefined;
    const rowsCheck = seedRowsCheck(seeds, rowsInPlace);
    // No seed row written since the assertions ran ahead: their findings stand.
    const assertions =
      inUse && (!seeds || rowsInPlace)
        ? { result: inUse.stored.result, findings: inUse.assertions }
        : undefined;
    await verifyDatabase(ctx, session.client, expected, rowsCheck, 'create', {
      ...(precheck ? { precheck } : {}),
      ...(seeds ? { seeds } : {}),
      ...(assertions ? { ahead: assertions } : {}),
    });
  });
  return 0;
}

/** What run reads first under the lock. */
interface FirstReads {
  readonly history: AppliedMigration[];
  /** The file's verified state as looked up, before the fingerprint is in (none: not looked up). */
  readonly state: Promise<StoredState | undefined>;
  /** The lookup with the fingerprint (undefined when nothing was looked up). */
  readonly precheck: Promise<Precheck | undefined>;
  /** Whether the lookup found that preflight's table does not exist (false when none was made). */
  readonly noTable: Promise<boolean>;
}

/** The history and the lookup that went out with the first try of the lock, granted at once. */
async function readsOfFirstTry(
  sent: Awaited<Prepared['sent']>,
  lookup: Prepared['lookup'],
): Promise<FirstReads> {
  // One parse of the state, so that what sendAhead used is the very state a match replays.
  const looked = lookup.then((l) => l && { lookup: toLookup(l.row), missing: l.missing });
  const precheck = Promise.all([looked, sent.fingerprint]).then(([l, taken]) =>
    l && taken
      ? {
          lookup: l.lookup && {
            ...l.lookup,
            fingerprint: taken.fingerprint,
            snapshot: taken.snapshot,
          },
          ...(l.missing ? { noTable: true } : {}),
        }
      : undefined,
  );
  const state = looked.then((l) => l?.lookup?.stored);
  // A lookup that failed otherwise tells nothing: the verification then looks up again.
  const noTable = looked.then(
    (l) => l?.missing === true,
    () => false,
  );
  for (const read of [precheck, state, noTable]) read.catch(() => undefined);
  return { history: await sent.history, state, precheck, noTable };
}

/**
 * The reads of a run whose catalog may be the one of a passed verification (nothing pending, no
 * SQL seed), sent before the fingerprint is back: the seed rows' checks with the tables `stored`
 * kept, then its assertions, in one read-only transaction. Nothing follows them on the wire
 * unasked, so whatever is sent next runs after them; their answers count only when the
 * fingerprint matches `stored`, and nothing is written before the assertions' (see run).
 */
function sendAhead(
  client: pg.ClientBase,
  seeds: readonly SeedFile[] | undefined,
  stored: StoredState,
): {
  stored: StoredState;
  seedRows?: Promise<Finding[] | undefined>;
  assertions: Promise<Finding[] | undefined>;
} {
  const known = seeds
    ? seedCatalogFrom(stored.result.seedTables, declarativeSeeds(seeds))
    : undefined;
  const seedRows = known ? checkSeedRowsAhead(client, seeds, known) : undefined;
  const assertions = runAssertionsAhead(client, stored.result.assertions).catch(() => undefined);
  return { stored, ...(seedRows ? { seedRows } : {}), assertions };
}

interface Prepared {
  readonly listing: MigrationListing;
  readonly layout: Layout;
  readonly seeds: SeedFile[] | undefined;
  readonly expected: ExpectedSource | undefined;
  readonly firstTry: Promise<LockTry>;
  /** What went out with the first try of the lock: of use only when it was granted at once. */
  readonly sent: Promise<{
    readonly client: pg.Client;
    readonly lock: Promise<LockTry>;
    readonly history: Promise<AppliedMigration[]>;
    /** The lookup, when it went out before the fingerprint. */
    readonly lookup: Promise<SentLookup> | undefined;
    /** The fingerprint (none under --full-verify, or when no expected-schema file exists). */
    readonly fingerprint: Promise<TakenFingerprint> | undefined;
  }>;
  /** The lookup of the file's verified state (undefined when there is no fingerprint to match). */
  readonly lookup: Promise<SentLookup | undefined>;
}
