import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Where the suite writes its figures; scripts/reliability-report.mjs turns them into RELIABILITY.md tables. */
export const SUMMARY_DIR = path.resolve('.preflight/reliability');

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
