// The Postgres server the benchmark runs against, and the databases it creates on it.
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import pg from 'pg';

const LOCAL = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * BENCH_DATABASE_URL, else TEST_DATABASE_URL (the tests' server), else 127.0.0.1:5432 when it
 * answers and lets `postgres` in, else (or when `embedded`) an embedded Postgres started like the
 * tests do.
 * Resolves { url, source, stop }.
 */
export async function findServer({ env = process.env, embedded = false } = {}) {
  for (const name of embedded ? [] : ['BENCH_DATABASE_URL', 'TEST_DATABASE_URL']) {
    if (env[name]) return { url: env[name], source: name, stop: async () => undefined };
  }
  if (!embedded && (await portAnswers('127.0.0.1', 5432)) && (await canLogIn(LOCAL))) {
    return { url: LOCAL, source: '127.0.0.1:5432', stop: async () => undefined };
  }
  const { startEmbeddedPostgres } = await import('../../test/helpers/embedded.mjs');
  const server = await startEmbeddedPostgres('bench-pg', randomBytes(12).toString('hex'));
  return { url: server.url, source: 'embedded Postgres', stop: server.stop };
}

function portAnswers(host, port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function canLogIn(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

/** The URL of another database on the same server. */
export function urlFor(base, database) {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs `fn` with a client on the server's maintenance database. */
export async function withAdmin(base, fn) {
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Drops (forcibly) and creates a database, empty or as a copy of `template` (whose sessions are
 * ended too: a template must have none); returns its URL.
 */
export async function freshDatabase(base, name, template) {
  await withAdmin(base, async (client) => {
    await client.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY ($1) AND pid <> pg_backend_pid()',
      [template === undefined ? [name] : [name, template]],
    );
    await client.query(`DROP DATABASE IF EXISTS "${name}"`);
    await client.query(
      `CREATE DATABASE "${name}"${template === undefined ? '' : ` TEMPLATE "${template}"`}`,
    );
  });
  return urlFor(base, name);
}

/** Drops a database if it exists. */
export async function dropDatabase(base, name) {
  await withAdmin(base, async (client) => {
    await client.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [name],
    );
    await client.query(`DROP DATABASE IF EXISTS "${name}"`);
  });
}

/**
 * The server's version, the settings that decide commit cost, and those that decide what a new
 * server process pays to read the catalog (its shared memory on huge pages or not), for the report.
 * `huge_pages_status` (Postgres 17 on) says whether huge pages are in use; before it, only the
 * setting is known.
 */
export async function describeServer(base) {
  return withAdmin(base, async (client) => {
    const { rows } = await client.query(
      `SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync,
              current_setting('synchronous_commit') AS synchronous_commit,
              current_setting('shared_buffers') AS shared_buffers,
              current_setting('huge_pages') AS huge_pages,
              current_setting('huge_pages_status', true) AS huge_pages_status`,
    );
    return rows[0];
  });
}
