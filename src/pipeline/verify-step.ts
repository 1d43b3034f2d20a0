import type pg from 'pg';
import { DriftError } from '../errors.js';
import type { Category, Finding } from '../report/findings.js';
import { runAssertions } from '../schema/assertions.js';
import { compareSchema } from '../schema/compare.js';
import { loadExpectedSchema, readExpectedSchemaIfExists } from '../schema/expected-file.js';
import { introspectSchema } from '../schema/introspect.js';
import {
  namedEntries,
  schemasOf,
  type ExpectedSchema,
  type SchemaSnapshot,
} from '../schema/types.js';
import type { CommandContext } from './context.js';

/** preflight's own history tables: never part of the application's expected schema. */
const HISTORY_TABLES = ['preflight_migrations', '_prisma_migrations'];

/** Removes the history tables from a snapshot (they exist wherever preflight ran). */
export function withoutHistoryTables(snapshot: SchemaSnapshot): SchemaSnapshot {
  const tables = Object.fromEntries(
    Object.entries(snapshot.tables).filter(
      ([name]) => !HISTORY_TABLES.includes(name.split('.').pop() ?? ''),
    ),
  );
  return { ...snapshot, tables };
}

/** Reads the expected-schema file: explicit paths must exist; an absent default is skipped (undefined). */
export async function loadExpected(ctx: CommandContext): Promise<ExpectedSchema | undefined> {
  const { expect } = ctx.config;
  if (expect.explicit) return loadExpectedSchema(expect.path);
  const expected = await readExpectedSchemaIfExists(expect.path);
  if (!expected) {
    const warning = `no expected-schema file at ${expect.path}: schema verification skipped (create one with \`preflight snapshot\`)`;
    ctx.logger.warn({ event: 'verify.skipped' }, warning);
    ctx.report.warnings.push(warning);
  }
  return expected;
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

/** Extra checks that come from elsewhere (declarative seed rows), run on the same client. */
export type ExtraCheck = (
  client: pg.ClientBase,
) => Promise<{ findings: Finding[]; checked: number }>;

/**
 * Verifies the database against the expected schema, assertions and extra checks; fills the
 * report and throws DriftError (exit 8) when any finding is an error. Read-only.
 */
export async function verifyDatabase(
  ctx: CommandContext,
  client: pg.ClientBase,
  expected: ExpectedSchema | undefined,
  extra: ExtraCheck | undefined,
): Promise<void> {
  const started = Date.now();
  ctx.report.phase = 'verify';
  const findings: Finding[] = [];
  const checkedBy: Partial<Record<Category, number>> = {};
  if (expected) {
    const snapshot = withoutHistoryTables(await introspectSchema(client, schemasOf(expected)));
    findings.push(...compareSchema(expected, snapshot, { strict: ctx.config.strict }));
    findings.push(...(await runAssertions(client, expected.assertions ?? [])));
    Object.assign(checkedBy, countExpected(expected));
  }
  if (extra) {
    const result = await extra(client);
    findings.push(...result.findings);
    checkedBy['system data'] = result.checked;
  }
  const checked = Object.values(checkedBy).reduce((a, b) => a + b, 0);
  ctx.report.verification = { findings, checked, checkedBy };
  const errors = findings.filter((f) => f.severity === 'error');
  const warnings = findings.length - errors.length;
  ctx.logger.info(
    {
      event: 'verify.result',
      checked,
      errors: errors.length,
      warnings,
      durationMs: Date.now() - started,
    },
    errors.length
      ? `verification failed: ${errors.length} problem(s)`
      : `verified ${checked} objects${warnings ? `, ${warnings} warning(s)` : ''}`,
  );
  for (const finding of findings) {
    const log =
      finding.severity === 'error'
        ? ctx.logger.error.bind(ctx.logger)
        : ctx.logger.warn.bind(ctx.logger);
    log(
      {
        event: 'verify.finding',
        kind: finding.kind,
        category: finding.category,
        object: finding.object,
      },
      finding.message,
    );
  }
  if (errors.length > 0) {
    throw new DriftError(
      `the database differs from what is expected: ${errors.length} problem(s)`,
      { findings: errors.length },
    );
  }
}
