import { startEmbeddedPostgres } from './embedded.mjs';
import { TEST_PASSWORD } from './secrets.mjs';

/**
 * Starts one embedded Postgres that checks passwords (for wrong-password tests). When
 * TEST_DATABASE_URL is not set, that same server serves every integration test.
 */
export default async function globalSetup() {
  const server = await startEmbeddedPostgres('test-pg', TEST_PASSWORD);
  globalThis.__PREFLIGHT_EMBEDDED__ = server;
  process.env.TEST_PASSWORD_DATABASE_URL = server.url;
  if (!process.env.TEST_DATABASE_URL) process.env.TEST_DATABASE_URL = server.url;
}
