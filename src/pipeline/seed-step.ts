import { existsSync } from 'node:fs';
import type { Session } from '../connection/session.js';
import { withTransaction } from '../connection/session.js';
import { applySeeds } from '../seeds/apply.js';
import { readSeeds } from '../seeds/source.js';
import type { SeedFile } from '../seeds/types.js';
import { verifySeedRows } from '../seeds/verify-rows.js';
import type { CommandContext } from './context.js';
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
 */
export async function seedDatabase(
  ctx: CommandContext,
  session: Session,
  seeds: readonly SeedFile[],
): Promise<void> {
  ctx.report.phase = 'seed';
  const started = Date.now();
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
}

/** The verification of declarative seed rows, as an extra check of `verify`. */
export function seedRowsCheck(seeds: readonly SeedFile[] | undefined): ExtraCheck | undefined {
  if (!seeds || seeds.length === 0) return undefined;
  const rows = seeds.reduce((n, s) => n + (s.kind === 'rows' ? s.rows.length : 0), 0);
  return async (client) => ({ findings: await verifySeedRows(client, seeds), checked: rows });
}
