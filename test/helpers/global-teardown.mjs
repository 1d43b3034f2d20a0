import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Stops the embedded Postgres started by the global setup; fails the run if any CLI output held a password. */
export default async function globalTeardown() {
  await globalThis.__PREFLIGHT_EMBEDDED__?.stop();
  const ledger = process.env.PREFLIGHT_SECRETS_LEDGER;
  if (!ledger) return;
  const scans = readdirSync(ledger).flatMap((file) =>
    readFileSync(path.join(ledger, file), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line)),
  );
  rmSync(ledger, { recursive: true, force: true });
  const hits = scans.flatMap((s) => s.hits);
  const summary = {
    name: 'secrets',
    finishedAt: new Date().toISOString(),
    pgMajorRequested: process.env.TEST_PG_MAJOR || null,
    invocations: scans.length,
    withPasswords: scans.filter((s) => s.carried).length,
    bytesSearched: scans.reduce((n, s) => n + s.bytes, 0),
    reportFiles: scans.reduce((n, s) => n + s.reports, 0),
    terminationLogs: scans.reduce((n, s) => n + s.terminationLogs, 0),
    hits: hits.length,
  };
  writeFileSync(
    path.join(path.dirname(ledger), 'secrets.json'),
    `${JSON.stringify(summary, null, 2)}\n`,
  );
  if (hits.length > 0) {
    throw new Error(
      `a password appeared in the output of ${hits.length} CLI run(s):\n  ${hits.join('\n  ')}`,
    );
  }
}
