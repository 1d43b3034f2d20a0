import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { Config } from '../config/config.js';
import { DriftError } from '../errors.js';
import type { CommandContext } from '../pipeline/context.js';
import {
  applyPending,
  assertNoConflicts,
  loadMigrations,
  planFromDatabase,
} from '../pipeline/migrate-step.js';
import { loadSeeds, seedDatabase } from '../pipeline/seed-step.js';
import { withSession } from '../pipeline/session-scope.js';
import { withoutHistoryTables } from '../pipeline/verify-structure.js';
import { compareSchema } from '../schema/compare.js';
import {
  formatExpectedSchema,
  mergeAssertions,
  readExpectedSchemaIfExists,
  writeExpectedSchema,
} from '../schema/expected-file.js';
import { introspectSchema, snapshotToExpected } from '../schema/introspect.js';
import { schemasOf, type ExpectedSchema, type SchemaSnapshot } from '../schema/types.js';
import { tuneForBulkWork } from '../v8-tuning.js';

/** Introspects the session's database, without preflight's own history tables. */
async function snapshotOf(
  client: pg.ClientBase,
  schemas: readonly string[],
): Promise<SchemaSnapshot> {
  return withoutHistoryTables(await introspectSchema(client, schemas));
}

/** The config pointed at another database of the same server. */
function onDatabase(config: Config, database: string): Config {
  if (!config.database) return config;
  const redacted = config.database.redacted.replace(/\/[^/?]*(\?|$)/, `/${database}$1`);
  return Object.freeze({
    ...config,
    database: Object.freeze({ ...config.database, database, redacted }),
  });
}

/**
 * Builds a scratch database from the migrations and seeds, snapshots it, and drops it, whatever
 * happens. Needs the CREATEDB privilege on the connected server.
 */
async function snapshotFromMigrations(
  ctx: CommandContext,
  schemas: readonly string[],
): Promise<SchemaSnapshot> {
  const scratch = `preflight_snapshot_${randomBytes(5).toString('hex')}`;
  const set = loadMigrations(ctx);
  const seeds = loadSeeds(ctx);
  await withSession(ctx, (admin) => admin.client.query(`CREATE DATABASE "${scratch}"`));
  ctx.logger.info(
    { event: 'snapshot.scratch', database: scratch },
    `building scratch database ${scratch}`,
  );
  try {
    const scratchCtx: CommandContext = { ...ctx, config: onDatabase(ctx.config, scratch) };
    return await withSession(scratchCtx, async (session) => {
      const plan = await planFromDatabase(scratchCtx, session, set);
      assertNoConflicts(plan);
      await applyPending(scratchCtx, session, set, plan);
      if (seeds) await seedDatabase(scratchCtx, session, seeds);
      return snapshotOf(session.client, schemas);
    });
  } finally {
    await withSession({ ...ctx, signal: new AbortController().signal }, (admin) =>
      admin.client.query(`DROP DATABASE IF EXISTS "${scratch}" WITH (FORCE)`),
    ).catch((error: unknown) =>
      ctx.logger.error(
        { event: 'snapshot.cleanup-failed', database: scratch },
        `could not drop scratch database ${scratch}: ${(error as Error).message}`,
      ),
    );
  }
}

/**
 * `preflight snapshot`: writes the exhaustive expected-schema file (keeping the file's
 * assertions), or with --check compares it with the committed file (exit 8 when stale).
 */
export async function snapshotCommand(ctx: CommandContext): Promise<number> {
  await tuneForBulkWork();
  const target = ctx.config.out ?? ctx.config.expect.path;
  const previous = await readExpectedSchemaIfExists(ctx.config.expect.path);
  const schemas = previous ? schemasOf(previous) : ['public'];
  const snapshot = ctx.config.fromMigrations
    ? await snapshotFromMigrations(ctx, schemas)
    : await withSession(ctx, (session) => snapshotOf(session.client, schemas));
  const next = mergeAssertions(previous, snapshotToExpected(snapshot));
  const relative = path.relative(ctx.config.cwd, target) || target;
  if (!ctx.config.check) {
    await writeExpectedSchema(target, next);
    ctx.logger.info({ event: 'snapshot.written', file: relative }, `wrote ${relative}`);
    return 0;
  }
  return checkSnapshot(ctx, { target, relative, previous, next, snapshot });
}

interface SnapshotCheck {
  readonly target: string;
  readonly relative: string;
  readonly previous: ExpectedSchema | undefined;
  readonly next: ExpectedSchema;
  readonly snapshot: SchemaSnapshot;
}

/** Compares the fresh snapshot with the committed file; throws DriftError (exit 8) naming what differs. */
function checkSnapshot(
  ctx: CommandContext,
  { target, relative, previous, next, snapshot }: SnapshotCheck,
): number {
  let committed: string | undefined;
  try {
    committed = readFileSync(target, 'utf8');
  } catch {
    committed = undefined;
  }
  if (committed === formatExpectedSchema(next)) {
    ctx.logger.info({ event: 'snapshot.check', file: relative }, `${relative} is up to date`);
    return 0;
  }
  const findings = previous ? compareSchema(previous, snapshot, { strict: true }) : [];
  ctx.report.verification = { findings, checked: 0 };
  const how = ctx.config.fromMigrations
    ? 'preflight snapshot --from-migrations'
    : 'preflight snapshot';
  throw new DriftError(
    committed === undefined
      ? `${relative} does not exist: create it with \`${how}\``
      : `${relative} is stale: it differs from what ${ctx.config.fromMigrations ? 'the migrations and seeds build' : 'the database has'}` +
          `${findings.length ? ` (${findings.length} difference(s), listed below)` : ' (formatting only)'}; regenerate it with \`${how}\` and commit it`,
  );
}
