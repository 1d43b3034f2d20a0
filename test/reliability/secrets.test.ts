import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { TLSSocket } from 'node:tls';
import pg from 'pg';
import { runCli, scratchDir, type CliResult } from '../helpers/cli.js';
import { newTerminationLog, removeTerminationLog } from '../helpers/secrets-scan.js';
import { TEST_PASSWORD } from '../helpers/secrets.mjs';
import { startEmbeddedPostgres, type EmbeddedServer } from '../helpers/embedded.mjs';
import { outputProblems } from './helpers/outputs.js';
import { LOCK_KEY } from './helpers/scenario.js';
import { createDatabase, serverUrl, type ScratchDatabase } from './helpers/server.js';
import { writeSummary } from './helpers/summary.js';

// Passwords never appear in any output: stdout (JSON or pretty logs, every level), stderr (the
// human report), the --report file and the termination log, on success and on every error path,
// including errors whose text comes from the server, from pg, from TLS or from the URL parser.
// (runCli also checks this for every run of the whole suite; here each path is provoked on purpose.)

const WRONG = 'Wr0ng-S3cret-for-secrets-test';
const ODD = 'p@ss:w/rd#?&= 50%';

interface Outcome {
  readonly name: string;
  readonly exitCode: number;
  readonly files: number;
}
const outcomes: Outcome[] = [];
afterAll(() =>
  writeSummary('secrets-cases', {
    cases: outcomes.length,
    passwords: [TEST_PASSWORD, WRONG, ODD].length,
    outcomes,
  }),
);

/** Runs the CLI with a --report file and a termination log, and checks all of it for the passwords. */
async function check(
  name: string,
  args: string[],
  env: Record<string, string>,
  cwd?: string,
): Promise<CliResult> {
  const dir = scratchDir();
  const report = path.join(dir, 'report.json');
  const terminationLog = newTerminationLog();
  try {
    const app = args.indexOf('--');
    const flags = ['--report', report];
    const argv =
      app === -1 ? [...args, ...flags] : [...args.slice(0, app), ...flags, ...args.slice(app)];
    const result = await runCli(argv, {
      cwd,
      env: { ...env, PREFLIGHT_TERMINATION_LOG: terminationLog },
    });
    const files = [report, terminationLog].filter(
      (f) => existsSync(f) && readFileSync(f, 'utf8') !== '',
    );
    expect(
      outputProblems(result, [TEST_PASSWORD, WRONG, ODD, encodeURIComponent(ODD)], files),
    ).toEqual([]);
    outcomes.push({ name, exitCode: result.exitCode, files: files.length });
    return result;
  } finally {
    removeTerminationLog(terminationLog);
  }
}

const withPassword = (
  url: string,
  password: string,
  query: Record<string, string> = {},
): string => {
  const u = new URL(url);
  u.password = encodeURIComponent(password);
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  return u.toString();
};

let db: ScratchDatabase;
beforeAll(async () => {
  db = await createDatabase('secrets');
}, 60_000);
afterAll(async () => {
  await db.drop();
});

describe('every command, on success and failure, with the password in the URL', () => {
  it('run, migrate, seed, verify, status, snapshot: JSON logs at trace level', async () => {
    const dir = scratchDir({ migrations: true, seeds: true });
    const env = { DATABASE_URL: db.url };
    expect(
      (
        await check(
          'status before migrating (exit 9)',
          ['status', '--log-level', 'trace'],
          env,
          dir,
        )
      ).exitCode,
    ).toBe(9);
    expect(
      (
        await check(
          'verify before migrating (exit 8)',
          ['verify', '--log-level', 'trace'],
          env,
          dir,
        )
      ).exitCode,
    ).toBe(8);
    expect((await check('migrate', ['migrate', '--log-level', 'trace'], env, dir)).exitCode).toBe(
      0,
    );
    expect((await check('seed', ['seed', '--log-level', 'trace'], env, dir)).exitCode).toBe(0);
    expect((await check('run', ['run', '--log-level', 'trace'], env, dir)).exitCode).toBe(0);
    expect((await check('verify', ['verify', '--strict'], env, dir)).exitCode).toBe(0);
    expect((await check('status', ['status'], env, dir)).exitCode).toBe(0);
    expect(
      (await check('snapshot --out', ['snapshot', '--out', path.join(dir, 'snap.json')], env, dir))
        .exitCode,
    ).toBe(0);
    expect(readFileSync(path.join(dir, 'snap.json'), 'utf8')).not.toContain(TEST_PASSWORD);
    expect(
      (await check('run, pretty logs', ['run', '--log-format', 'pretty'], env, dir)).exitCode,
    ).toBe(0);
    expect(
      (
        await check(
          'run via PREFLIGHT_DATABASE_URL',
          ['run'],
          { PREFLIGHT_DATABASE_URL: db.url },
          dir,
        )
      ).exitCode,
    ).toBe(0);
    expect(
      (await check('run via --database-url', ['run', '--database-url', db.url], {}, dir)).exitCode,
    ).toBe(0);
  }, 120_000);

  it('the PG* variables, PGPASSWORD included', async () => {
    const u = new URL(db.url);
    const env = {
      PGHOST: u.hostname,
      PGPORT: u.port,
      PGUSER: 'postgres',
      PGDATABASE: db.name,
      PGPASSWORD: TEST_PASSWORD,
    };
    expect(
      (await check('PG* variables', ['verify', '--log-level', 'trace'], env)).exitCode,
    ).not.toBe(1);
    expect((await check('wrong PGPASSWORD', ['run'], { ...env, PGPASSWORD: WRONG })).exitCode).toBe(
      3,
    );
  }, 60_000);

  it('run -- CMD: the app arguments are not logged', async () => {
    const dir = scratchDir({ migrations: true, seeds: true });
    const result = await check(
      'run -- app with a secret argument',
      ['run', '--', process.execPath, '-e', '', '--', `--password=${WRONG}`],
      { DATABASE_URL: db.url },
      dir,
    );
    expect(result.exitCode).toBe(0);
  }, 60_000);
});

describe('wrong passwords and login errors', () => {
  it.each([
    ['a wrong password', () => withPassword(serverUrl(), WRONG)],
    ['a wrong password with URL-special characters', () => withPassword(serverUrl(), ODD)],
    [
      'the right password for a missing database',
      () => withPassword(serverUrl().replace(/\/postgres$/, '/missing_db'), TEST_PASSWORD),
    ],
    [
      'the right password for a missing user',
      () => {
        const u = new URL(serverUrl());
        u.username = 'nobody';
        return u.toString();
      },
    ],
  ])(
    '%s: exit 3, no password anywhere',
    async (name, url) => {
      for (const command of ['run', 'verify', 'status']) {
        const result = await check(`${name} (${command})`, [command, '--wait', '1s'], {
          DATABASE_URL: url(),
        });
        expect(result.exitCode).toBe(3);
      }
    },
    60_000,
  );

  it('a malformed URL holding the password: exit 2', async () => {
    const broken = `postgres://postgres:${TEST_PASSWORD}@127.0.0.1:54x/app`;
    expect((await check('malformed URL', ['run'], { DATABASE_URL: broken })).exitCode).toBe(2);
    const spaced = `postgres://postgres:my ${TEST_PASSWORD}@[::1/app`;
    expect(
      (await check('malformed URL, password with a space', ['run'], { DATABASE_URL: spaced }))
        .exitCode,
    ).toBe(2);
  });
});

describe('errors whose text comes from the server', () => {
  it('a SQL error quoting the password, a seed failure showing it in the failing row', async () => {
    const dir = scratchDir();
    mkdirSync(path.join(dir, 'migrations'));
    mkdirSync(path.join(dir, 'seeds'));
    writeFileSync(
      path.join(dir, 'migrations', '0001_t.sql'),
      'CREATE TABLE t (id int PRIMARY KEY, v text CHECK (v <> v));\n',
    );
    writeFileSync(
      path.join(dir, 'migrations', '0002_bad.sql'),
      `SELECT '${TEST_PASSWORD}'::int;\n`,
    );
    const target = await createDatabase('secrets');
    try {
      const migration = await check(
        'SQL error quoting the password',
        ['run'],
        { DATABASE_URL: target.url },
        dir,
      );
      expect(migration.exitCode).toBe(5);
      expect(migration.all).toContain('invalid input syntax for type integer');
      writeFileSync(path.join(dir, 'migrations', '0002_bad.sql'), 'SELECT 1;\n');
      writeFileSync(
        path.join(dir, 'seeds', '001_t.json'),
        JSON.stringify({
          table: 't',
          key: ['id'],
          mode: 'upsert',
          rows: [{ id: 1, v: TEST_PASSWORD }],
        }),
      );
      const seed = await check(
        'seed failure showing the password',
        ['run'],
        { DATABASE_URL: target.url },
        dir,
      );
      expect(seed.exitCode).toBe(7);
      expect(seed.all).toContain('violates check constraint');
    } finally {
      await target.drop();
    }
  }, 60_000);

  it('a lock holder whose query text holds the password (named in lock.wait and the timeout)', async () => {
    const holder = new pg.Client({ connectionString: db.url, application_name: 'other-deploy' });
    holder.on('error', () => undefined);
    await holder.connect();
    try {
      const pending = holder.query(
        `SELECT pg_advisory_lock(${LOCK_KEY}), '${TEST_PASSWORD}' AS pw, pg_sleep(3)`,
      );
      await new Promise((r) => setTimeout(r, 300));
      const result = await check(
        'lock timeout naming a holder with the password in its query',
        ['run', '--lock-timeout', '1s'],
        { DATABASE_URL: db.url },
        scratchDir({ migrations: true }),
      );
      expect(result.exitCode).toBe(4);
      expect(result.all).toContain('other-deploy');
      await pending;
    } finally {
      await holder.end();
    }
  }, 60_000);
});

describe('TLS errors', () => {
  let tlsServer: Server | undefined;
  let port = 0;
  let ca = '';
  beforeAll(async () => {
    const dir = scratchDir();
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=not-this-host',
          '-keyout',
          path.join(dir, 'key.pem'),
          '-out',
          path.join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=other-ca',
          '-keyout',
          path.join(dir, 'ca-key.pem'),
          '-out',
          path.join(dir, 'ca.pem'),
        ],
        { stdio: 'ignore' },
      );
    } catch {
      return;
    }
    const key = readFileSync(path.join(dir, 'key.pem'));
    const cert = readFileSync(path.join(dir, 'cert.pem'));
    ca = readFileSync(path.join(dir, 'ca.pem'), 'utf8');
    // Answers Postgres's SSLRequest with 'S', then speaks TLS with a self-signed certificate.
    tlsServer = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', (first: Buffer) => {
        if (first.length < 8 || first.readInt32BE(4) !== 80877103) {
          socket.destroy();
          return;
        }
        socket.write('S');
        const secure = new TLSSocket(socket, { isServer: true, key, cert });
        secure.on('error', () => socket.destroy());
        secure.once('data', () => secure.destroy());
      });
    });
    await new Promise<void>((resolve) => tlsServer?.listen(0, '127.0.0.1', resolve));
    const address = tlsServer.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) =>
      tlsServer ? tlsServer.close(() => resolve()) : resolve(),
    );
  });

  it.each([
    ['verify-full against a self-signed certificate', 'verify-full', false],
    ['verify-ca with another CA', 'verify-ca', true],
    ['require with another CA', 'require', true],
    ['no-verify, then the server hangs up', 'no-verify', false],
  ])(
    '%s: exit 3, no password anywhere',
    async (name, sslmode, withCa) => {
      if (!tlsServer) {
        console.warn('NOTICE: openssl is not installed: the TLS error cases are skipped');
        return;
      }
      const url = `postgres://postgres:${encodeURIComponent(TEST_PASSWORD)}@127.0.0.1:${port}/app?sslmode=${sslmode}`;
      const result = await check(
        name,
        ['run', '--wait', '1s', ...(withCa ? ['--ca-cert', ca] : [])],
        { DATABASE_URL: url },
      );
      expect(result.exitCode).toBe(3);
    },
    30_000,
  );

  it('sslmode=require against a server without TLS', async () => {
    const result = await check('require against a server without TLS', ['run'], {
      DATABASE_URL: withPassword(db.url, TEST_PASSWORD, { sslmode: 'require' }),
    });
    expect(result.exitCode).toBe(3);
    expect(result.all).toMatch(/does not support SSL/);
  });
});

// A role whose password is stored as MD5, on a server that asks for it so (pg_hba.conf `md5`, as
// older installations still do): pg's MD5 login, inside the bundle, through the built CLI.
describe('a server that asks for an MD5 password', () => {
  let server: EmbeddedServer | undefined;
  beforeAll(async () => {
    const major = process.env.TEST_PG_MAJOR || undefined;
    server = await startEmbeddedPostgres('pf-md5', TEST_PASSWORD, {
      ...(major ? { major } : {}),
      authMethod: 'md5',
    });
    // Stored as SCRAM by initdb, the password is answered by SCRAM even under md5: stored as MD5.
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      await client.query("SET password_encryption = 'md5'");
      await client.query(`ALTER ROLE postgres PASSWORD '${TEST_PASSWORD.replaceAll("'", "''")}'`);
      const { rows } = await client.query<{ md5: boolean }>(
        "SELECT rolpassword LIKE 'md5%' AS md5 FROM pg_authid WHERE rolname = 'postgres'",
      );
      expect(rows).toEqual([{ md5: true }]);
    } finally {
      await client.end();
    }
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('the right password logs in (exit 0), a wrong one is exit 3; neither is printed', async () => {
    const url = server?.url ?? '';
    const dir = scratchDir({ migrations: true, seeds: true });
    const right = await check(
      'MD5 login, right password',
      ['run', '--wait', '5s'],
      { DATABASE_URL: url },
      dir,
    );
    expect(right.exitCode).toBe(0);
    const wrong = await check(
      'MD5 login, wrong password',
      ['run', '--wait', '1s'],
      { DATABASE_URL: withPassword(url, WRONG) },
      dir,
    );
    expect(wrong.exitCode).toBe(3);
    expect(wrong.all).toMatch(/wrong password/);
  }, 60_000);
});
