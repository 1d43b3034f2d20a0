import type pg from 'pg';
import { existsSync } from 'node:fs';
import type { Session } from '../connection/session.js';
import { isPipelined, withTransaction } from '../connection/session.js';
import { applySeeds } from '../seeds/apply.js';
import { readSeeds, seedLabel } from '../seeds/source.js';
import type { SeedFile } from '../seeds/types.js';
import type { SeedCatalog } from '../seeds/catalog.js';
import { verifySeedRows } from '../seeds/verify-rows.js';
import type { CommandContext } from './context.js';
import type { Finding } from '../report/findings.js';
import type { ExtraCheck } from './verify-step.js';

/** Reads the seeds directory; an absent default directory is skipped with a warning (undefined). */
export function loadSeeds(ctx: CommandContext): SeedFile[] | undefined {
  const { seeds } = ctx.config;
  if (!seeds.explicit && !existsSync(seeds.path)) {
    const warning = `no seeds directory at ${seeds.path}: seeding skipped`;
    ctx.logger.warn({ event: 'seed.skipped' }, warning);
    ctx.report.warnings.push(warning);
    ctx.report.seeds = { skipped: 'no seeds directory', files: [] };
    return undefined;
  }
  return readSeeds(seeds.path);
}

/**
 * Runs every seed in one transaction (the caller holds the advisory lock): all or nothing.
 * Throws SeedError (exit 7) naming the file; the report lists rows inserted and updated per file.
 *
 * When every seed is declarative, their rows are verified first (reads only): when all of them
 * are already in place with the seed's values, writing would change nothing, so the transaction
 * is skipped and the (empty) findings are returned for the verification to reuse. Otherwise
 * returns undefined. `checked` is that verification when the caller already started it
 * (checkSeedRowsEarly), with nothing changed since.
 */
export async function seedDatabase(
  ctx: CommandContext,
  session: Session,
  seeds: readonly SeedFile[],
  checked?: Promise<Finding[]>,
): Promise<Finding[] | undefined> {
  ctx.report.phase = 'seed';
  const started = Date.now();
  if (allDeclarative(seeds)) {
    const findings = await (checked ?? verifySeedRows(session.client, seeds));
    if (findings.length === 0) {
      const results = seeds.map((seed) => ({ file: seed.name, inserted: 0, updated: 0 }));
      for (const seed of seeds) {
        ctx.logger.info(
          { event: 'seed.applied', file: seed.name, inserted: 0, updated: 0, durationMs: 0 },
          `${seedLabel(seed)}: 0 inserted, 0 updated`,
        );
      }
      ctx.report.seeds = { files: results };
      ctx.logger.info(
        { event: 'seeds.done', files: results.length, durationMs: Date.now() - started },
        'seeds in place: every row already holds its values',
      );
      return findings;
    }
  }
  const results = await withTransaction(session.client, () =>
    applySeeds(session.client, seeds, {
      logger: ctx.logger,
      password: ctx.config.database?.password,
    }),
  );
  ctx.report.seeds = { files: results };
  ctx.logger.info(
    { event: 'seeds.done', files: results.length, durationMs: Date.now() - started },
    'seeds applied',
  );
  return undefined;
}

function allDeclarative(seeds: readonly SeedFile[]): boolean {
  return seeds.length > 0 && seeds.every((s) => s.kind === 'rows');
}

/**
 * Starts the read-only check that seedDatabase begins with, with the seeds' tables a verified
 * state kept (`known`: no catalog query), for seedDatabase to use when nothing changes in between;
 * undefined when seedDatabase would not check. A failure is seen only by the one that uses it.
 */
export function checkSeedRowsEarly(
  client: pg.ClientBase,
  seeds: readonly SeedFile[] | undefined,
  known: SeedCatalog,
): Promise<Finding[]> | undefined {
  if (!seeds || !allDeclarative(seeds)) return undefined;
  // Kept tables that no longer fit the rows (a state edited by hand): read them again.
  const checked = verifySeedRows(client, seeds, known).catch(() => verifySeedRows(client, seeds));
  checked.catch(() => undefined);
  return checked;
}

/**
 * Like checkSeedRowsEarly, but sends nothing after its checks, so that whatever the caller sends
 * next runs after them (see run): undefined when the checks cannot all be sent at once (a client
 * that is not pipelined) or seedDatabase would not check, and resolves to undefined, never
 * rejects, when they failed (then seedDatabase checks again, reading the tables).
 */
export function checkSeedRowsAhead(
  client: pg.ClientBase,
  seeds: readonly SeedFile[] | undefined,
  known: SeedCatalog,
): Promise<Finding[] | undefined> | undefined {
  if (!seeds || !allDeclarative(seeds) || !isPipelined(client)) return undefined;
  return verifySeedRows(client, seeds, known).catch(() => undefined);
}

/**
 * The verification of declarative seed rows, as an extra check of `verify`; `known` is a result
 * seedDatabase just established (rows already in place), reused instead of reading them again.
 */
export function seedRowsCheck(
  seeds: readonly SeedFile[] | undefined,
  known?: readonly Finding[],
): ExtraCheck | undefined {
  if (!seeds || seeds.length === 0) return undefined;
  const rows = seeds.reduce((n, s) => n + (s.kind === 'rows' ? s.rows.length : 0), 0);
  if (known) return () => Promise.resolve({ findings: [...known], checked: rows });
  return async (client) => ({ findings: await verifySeedRows(client, seeds), checked: rows });
}
