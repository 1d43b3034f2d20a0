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
  checkSeedRowsEarly,
  loadSeeds,
  seedDatabase,
  seedRowsCheck,
} from '../pipeline/seed-step.js';
import { expectedFileMayExist, loadExpected, verifyDatabase } from '../pipeline/verify-step.js';
import { isLarge } from '../pipeline/verify-structure.js';
import {
  lookupBehind,
  precheckMatches,
  readHistoryAndPrecheck,
  type Precheck,
} from '../pipeline/precheck.js';
import { tuneForBulkWork } from '../v8-tuning.js';
import { loginFirst } from '../pipeline/session-scope.js';
import { withCheckedLock } from './migrate.js';

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
  // first try of the lock goes out behind them, then the history and the catalog fingerprint, and
  // the lookup of the file's verified state once the file is read: granted at once, the lock is
  // held when the server reads them, and the history is here while the server takes the
  // fingerprint (the slowest of them). Not granted at once, they are of no use and read again.
  const prepare = async (connected: Promise<pg.Client>): Promise<Prepared> => {
    const directory = readMigrationsDirectory(ctx.config.migrations.path);
    const store = historyStore(directory.layout);
    const fingerprinting = !ctx.config.fullVerify && expectedFileMayExist(ctx);
    // In this order on the wire: the lock, the history, the fingerprint.
    const sent = connected.then((client) => {
      const lock = tryLock(client, store.lockKey);
      const history = store.read(client);
      const fingerprint = fingerprinting ? takeFingerprint(client) : undefined;
      lock.catch(() => undefined);
      history.catch(() => undefined);
      fingerprint?.catch(() => undefined);
      return { client, lock, history, fingerprint };
    });
    const firstTry = sent.then((s) => s.lock);
    sent.catch(() => undefined);
    firstTry.catch(() => undefined);
    // Read on the thread pool meanwhile; its errors come after those of the steps before it.
    const reading = loadExpected(ctx);
    reading.catch(() => undefined);
    // The login first (see loginFirst): the lock, the history and the fingerprint go out as soon
    // as it is done, and the server reads them while the files are read here.
    await loginFirst(sent);
    const listing = listMigrationsStep(ctx, directory);
    // A turn of the event loop between the steps, for whatever the connection has to do.
    await new Promise((resolve) => setImmediate(resolve));
    const seeds = loadSeeds(ctx);
    const expected = await reading;
    const precheck = sent.then((s) => lookupBehind(ctx, s.client, expected, s));
    precheck.catch(() => undefined);
    return { listing, layout: listing.layout, seeds, expected, firstTry, sent, precheck };
  };
  await withCheckedLock(ctx, prepare, async (session, held, prepared, granted) => {
    const { listing, seeds, expected } = prepared;
    // Granted at once, the history and the lookup were read under the lock, and the migration
    // files are read here while the server takes the fingerprint. Else both are read now, in one
    // round trip (the lookup in vain when something turns out to be pending), while the files are
    // read here; the lock check runs alongside.
    const first = granted.atOnce
      ? readUnderFirstTry(prepared)
      : readHistoryAndPrecheck(ctx, session.client, historyStore(listing.layout), expected);
    first.catch(() => undefined);
    const set = readListedMigrations(listing);
    const { history, precheck: looked } = await first;
    const plan = planFromHistory(ctx, set, history);
    assertNoConflicts(plan);
    let precheck: Precheck | undefined;
    if (expected) {
      if (plan.pending.length === 0 && !seeds?.some((s) => s.kind === 'sql')) precheck = looked;
      if (!precheckMatches(precheck)) {
        await tuneForBulkWork(isLarge(expected));
        expected.schema();
      }
    }
    // The catalog is the one of a passed verification that kept the seeds' tables: their rows'
    // checks go out now, all at once, with no catalog query (read-only; see seedDatabase).
    const stored = precheckMatches(precheck) ? precheck?.lookup?.stored?.result : undefined;
    const known =
      stored && seeds ? seedCatalogFrom(stored.seedTables, declarativeSeeds(seeds)) : undefined;
    const seedRows = known ? checkSeedRowsEarly(session.client, seeds, known) : undefined;
    await held;
    await applyPending(ctx, session, set, plan);
    const rowsInPlace = seeds ? await seedDatabase(ctx, session, seeds, seedRows) : undefined;
    const rowsCheck = seedRowsCheck(seeds, rowsInPlace);
    await verifyDatabase(ctx, session.client, expected, rowsCheck, 'create', precheck, seeds);
  });
  return 0;
}

/** The history and the lookup that went out behind the first try of the lock, granted at once. */
async function readUnderFirstTry(
  prepared: Prepared,
): Promise<{ history: AppliedMigration[]; precheck: Precheck | undefined }> {
  const sent = await prepared.sent;
  const history = await sent.history;
  return { history, precheck: await prepared.precheck };
}

interface Prepared {
  readonly listing: MigrationListing;
  readonly layout: Layout;
  readonly seeds: SeedFile[] | undefined;
  readonly expected: ExpectedSource | undefined;
  readonly firstTry: Promise<LockTry>;
  /** What went out behind the first try of the lock: of use only when it was granted at once. */
  readonly sent: Promise<{
    readonly client: pg.Client;
    readonly lock: Promise<LockTry>;
    readonly history: Promise<AppliedMigration[]>;
    /** The fingerprint (none under --full-verify, or when no expected-schema file exists). */
    readonly fingerprint: Promise<TakenFingerprint> | undefined;
  }>;
  /** The lookup of the file's verified state, behind the fingerprint (see lookupBehind). */
  readonly precheck: Promise<Precheck | undefined>;
}
