import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Where the suite writes its figures, one folder per server major asked for (`pg14`, ...; `default`
 * without TEST_PG_MAJOR); scripts/reliability-report.mjs turns them into RELIABILITY.md tables.
 */
export const SUMMARY_DIR = path.resolve(
  '.preflight/reliability',
  process.env.TEST_PG_MAJOR ? `pg${process.env.TEST_PG_MAJOR}` : 'default',
);

/** Writes one machine-readable summary, `.preflight/reliability/<name>.json`. */
export function writeSummary(name: string, data: Record<string, unknown>): void {
  mkdirSync(SUMMARY_DIR, { recursive: true });
  const summary = {
    name,
    finishedAt: new Date().toISOString(),
    node: process.version,
    pgMajorRequested: process.env.TEST_PG_MAJOR || null,
    ...data,
  };
  writeFileSync(path.join(SUMMARY_DIR, `${name}.json`), `${JSON.stringify(summary, null, 2)}\n`);
}
