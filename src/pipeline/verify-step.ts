import { existsSync } from 'node:fs';
import type pg from 'pg';
import { DriftError } from '../errors.js';
import type { Category, Finding } from '../report/findings.js';
import { runAssertions } from '../schema/assertions.js';
import type { VerifiedResult } from '../schema/verified-state.js';
import {
  readExpectedSource,
  readExpectedSourceIfExists,
  readExpectedSourceNow,
  readExpectedSourceNowIfExists,
  type ExpectedSource,
} from '../schema/expected-file.js';
import type { SeedFile } from '../seeds/types.js';
import { seedRowsCheck } from './seed-step.js';
import type { CommandContext } from './context.js';
import type { Precheck } from './precheck.js';
import { verifyStructure, type RecordMode, type StructureOptions } from './verify-structure.js';

/**
 * Reads the expected-schema file (parsed later, when needed): explicit paths must exist; an
 * absent default is skipped (undefined).
 */
export async function loadExpected(ctx: CommandContext): Promise<ExpectedSource | undefined> {
  const { expect } = ctx.config;
  const ahead = ctx.expectedAhead?.path === expect.path ? ctx.expectedAhead.source : undefined;
  if (expect.explicit) {
    if (!ahead) return readExpectedSource(expect.path);
    const source = await ahead;
    if (source) return source;
    // Absent: the error an explicit path gets (does not exist), from a read of its own.
    return readExpectedSource(expect.path);
  }
  return skippedWhenAbsent(ctx, await (ahead ?? readExpectedSourceIfExists(expect.path)));
}

/**
 * loadExpected on this thread, at once (see readExpectedSourceNow): the file as read (undefined
 * when absent or unreadable), and as loadExpected's promise, which rejects with the error, for the
 * caller to await in its turn.
 */
export function loadExpectedNow(ctx: CommandContext): {
  readonly source: ExpectedSource | undefined;
  readonly reading: Promise<ExpectedSource | undefined>;
} {
  const { expect } = ctx.config;
  try {
    const source = expect.explicit
      ? readExpectedSourceNow(expect.path)
      : skippedWhenAbsent(ctx, readExpectedSourceNowIfExists(expect.path));
    return { source, reading: Promise.resolve(source) };
  } catch (error) {
    const reading = Promise.reject(error as Error);
    reading.catch(() => undefined);
    return { source: undefined, reading };
  }
}

function skippedWhenAbsent(
  ctx: CommandContext,
  expected: ExpectedSource | undefined,
): ExpectedSource | undefined {
  if (!expected) {
    const warning = `no expected-schema file at ${ctx.config.expect.path}: schema verification skipped (create one with \`preflight snapshot\`)`;
    ctx.logger.warn({ event: 'verify.skipped' }, warning);
    ctx.report.warnings.push(warning);
  }
  return expected;
}

/** Whether loadExpected may find a file (it may still be unreadable): worth a fingerprint. */
export function expectedFileMayExist(ctx: CommandContext): boolean {
  return ctx.config.expect.explicit || existsSync(ctx.config.expect.path);
}

/** Extra checks that come from elsewhere (declarative seed rows), run on the same client. */
export type ExtraCheck = (
  client: pg.ClientBase,
) => Promise<{ findings: Finding[]; checked: number }>;

/**
 * The assertions of a verified state, run before the verification (see run): their findings
 * stand for the assertions' when the verification replays that very state (`result`) and nothing
 * was written since they ran; undefined findings mean they are to be run again.
 */
export interface AssertionsAhead {
  readonly result: VerifiedResult;
  readonly findings: Promise<Finding[] | undefined>;
}

/**
 * Verifies the database against the expected schema, assertions and extra checks; fills the
 * report and throws DriftError (exit 8) when any finding is an error. Changes nothing of the
 * application: at most preflight's verified-state row (see RecordMode), which keeps the catalog
 * of `seeds`' tables too when they are all declarative.
 */
export async function verifyDatabase(
  ctx: CommandContext,
  client: pg.ClientBase,
  expected: ExpectedSource | undefined,
  extra: ExtraCheck | undefined,
  record: RecordMode,
  options: StructureOptions & { readonly ahead?: AssertionsAhead } = {},
): Promise<void> {
  const { ahead } = options;
  const started = Date.now();
  ctx.report.phase = 'verify';
  const findings: Finding[] = [];
  const checkedBy: Partial<Record<Category, number>> = {};
  if (expected) {
    const structure = await verifyStructure(ctx, client, expected, record, options);
    findings.push(...structure.findings);
    const ran = ahead?.result === structure ? await ahead.findings : undefined;
    findings.push(...(ran ?? (await runAssertions(client, structure.assertions))));
    Object.assign(checkedBy, structure.checkedBy);
  }
  if (extra) {
    const result = await extra(client);
    findings.push(...result.findings);
    checkedBy['system data'] = result.checked;
  }
  const checked = Object.values(checkedBy).reduce((a, b) => a + b, 0);
  const { method, verifiedAt } = ctx.report.verification ?? {};
  ctx.report.verification = {
    findings,
    checked,
    checkedBy,
    ...(method ? { method } : {}),
    ...(verifiedAt ? { verifiedAt } : {}),
  };
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

/**
 * `verify` and `status`: the expected schema, assertions and seed rows of a database they do not
 * change (its verified state is used, and recorded only where preflight's table exists).
 */
export function verifyExisting(
  ctx: CommandContext,
  client: pg.ClientBase,
  expected: ExpectedSource | undefined,
  seeds: readonly SeedFile[] | undefined,
  options: Omit<StructureOptions, 'seeds'> = {},
): Promise<void> {
  return verifyDatabase(ctx, client, expected, seedRowsCheck(seeds), 'existing', {
    ...options,
    ...(seeds ? { seeds } : {}),
  });
}

/**
 * verifyExisting once the lookup of the verified state is in, with the helper connection opened
 * for it (helperAfter): verify's and status's verification. Drift is returned, not thrown, for
 * the caller to weigh against its other checks; any other error is thrown.
 */
export async function verifyAfterLookup(
  ctx: CommandContext,
  client: pg.ClientBase,
  expected: ExpectedSource | undefined,
  seeds: readonly SeedFile[] | undefined,
  precheck: Promise<Precheck | undefined>,
  helper: Promise<pg.Client | undefined> | undefined,
): Promise<DriftError | undefined> {
  try {
    const checked = await precheck;
    await verifyExisting(ctx, client, expected, seeds, {
      ...(checked ? { precheck: checked } : {}),
      ...(helper ? { helper } : {}),
    });
    return undefined;
  } catch (error) {
    if (!(error instanceof DriftError)) throw error;
    return error;
  }
}
