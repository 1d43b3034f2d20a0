import { copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestDatabase, runSql, urlFor, type TestDatabase } from '../helpers/db.js';
import {
  logLines,
  REPO_MIGRATIONS,
  REPO_SEEDS,
  runCli,
  scratchDir,
  startCli,
} from '../helpers/cli.js';
import { proxyTo, type CuttingProxy } from '../reliability/helpers/proxy.js';
import { holdLock, lockWaitLogged } from '../reliability/helpers/scenario.js';

interface Report {
  exitCode: number;
  verification: {
    method?: string;
    verifiedAt?: string;
    checked: number;
    checkedBy: Record<string, number>;
    findings: Array<{ kind: string; object: string; severity: string; category: string }>;
  };
}

interface Outcome {
  exitCode: number;
  stderr: string;
  stdout: string;
  report: Report;
}

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('pf_state');
});

afterAll(async () => {
  await db.drop();
});

function sql(text: string, url = db.url): Promise<void> {
  return runSql(url, text);
}

async function preflight(args: string[], url = db.url): Promise<Outcome> {
  const file = path.join(scratchDir(), 'report.json');
  const result = await runCli([...args, '--report', file, '--log-level', 'debug'], {
    env: { DATABASE_URL: url },
  });
  return {
    exitCode: result.exitCode,
    stderr: result.stderr,
    stdout: result.stdout,
    report: JSON.parse(readFileSync(file, 'utf8')) as Report,
  };
}

describe('the verified state (catalog fingerprint)', () => {
  let first: Outcome;

  beforeAll(async () => {
    first = await preflight(['run']);
  });

  it('a first run reads the catalog, and the next one replays it while nothing changed', async () => {
    expect(first.exitCode).toBe(0);
    expect(first.report.verification.method).toBe('catalog');

    const second = await preflight(['run']);
    expect(second.exitCode).toBe(0);
    expect(second.report.verification.method).toBe('fingerprint');
    expect(second.report.verification.verifiedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(second.report.verification.checkedBy).toEqual(first.report.verification.checkedBy);
    expect(second.report.verification.checked).toBe(first.report.verification.checked);
    expect(second.stderr).toMatch(/Catalog +unchanged since its full verification at /);
    // Assertions and system data are data: checked on every run.
    expect(second.report.verification.checkedBy.assertions).toBeGreaterThan(0);
    expect(second.report.verification.checkedBy['system data']).toBeGreaterThan(0);
  });

  it('--full-verify reads the catalog even when nothing changed', async () => {
    const full = await preflight(['verify', '--full-verify']);
    expect(full.exitCode).toBe(0);
    expect(full.report.verification.method).toBe('catalog');
  });

  it('a deleted system row is found on a fingerprint match (data is always checked)', async () => {
    await sql(`DELETE FROM team_roles WHERE name = 'Owner'`);
    const result = await preflight(['verify']);
    expect(result.report.verification.method).toBe('fingerprint');
    expect(result.exitCode).toBe(8);
    const categories = result.report.verification.findings.map((f) => f.category);
    expect(new Set(categories)).toEqual(new Set(['system data', 'assertions']));
    expect((await preflight(['run'])).exitCode).toBe(0);
  });

  it('keeps the seeds tables with the state: a changed template is found, and put back by run', async () => {
    const [kept] = await db.query<{ keys: string[] }>(
      `SELECT array(SELECT t->>'key' FROM jsonb_array_elements(result->'seedTables') t ORDER BY 1) AS keys
         FROM preflight_verification ORDER BY verified_at DESC LIMIT 1`,
    );
    expect(kept?.keys).toEqual(['["public","notification_templates"]', '["public","team_roles"]']);
    await sql(
      `UPDATE notification_templates SET subject = 'changed' WHERE type = 'invoice_approved'`,
    );
    const found = await preflight(['verify']);
    expect(found.exitCode).toBe(8);
    expect(found.report.verification.method).toBe('fingerprint');
    expect(found.report.verification.findings.map((f) => f.category)).toContain('system data');
    const fixed = await preflight(['run']);
    expect(fixed.exitCode).toBe(0);
    expect(fixed.report.verification.method).toBe('fingerprint');
    const [row] = await db.query<{ subject: string }>(
      `SELECT subject FROM notification_templates WHERE type = 'invoice_approved'`,
    );
    expect(row?.subject).toBe('Invoice {{invoice_number}} was approved');
  });

  it.each([
    ['that do not read back', `'[{"key": 1}]'`],
    [
      'edited to a wrong column type',
      `(SELECT jsonb_agg(jsonb_set(t, '{columns}', (SELECT jsonb_agg(jsonb_set(c, '{type}', '"integer"')) FROM jsonb_array_elements(t->'columns') c))) FROM jsonb_array_elements(result->'seedTables') t)`,
    ],
  ])('kept seeds tables %s are read again, and run still passes', async (_what, value) => {
    // A state of its own: recorded afresh, with the seeds' tables as they are.
    expect((await preflight(['run', '--full-verify'])).exitCode).toBe(0);
    await sql(
      `UPDATE preflight_verification SET result = jsonb_set(result, '{seedTables}', ${value})`,
    );
    const result = await preflight(['run']);
    expect(result.exitCode).toBe(0);
    expect(result.report.verification.method).toBe('fingerprint');
    expect(result.report.verification.findings).toEqual([]);
  });

  it('a schema change is never hidden: drift after a passed run is found by a full read', async () => {
    const copy = `${db.name}_drift`;
    await sql(`CREATE DATABASE "${copy}" TEMPLATE "${db.name}"`, urlFor('postgres', db.url));
    const url = urlFor(copy, db.url);
    try {
      await sql('ALTER TABLE users DROP COLUMN bio', url);
      const result = await preflight(['verify'], url);
      expect(result.exitCode).toBe(8);
      expect(result.report.verification.method).toBe('catalog');
      expect(result.report.verification.findings).toContainEqual(
        expect.objectContaining({ kind: 'missing', object: 'public.users.bio' }),
      );
      // A failed verification is not recorded: the next one reads the catalog again.
      const again = await preflight(['run'], url);
      expect(again.exitCode).toBe(8);
      expect(again.report.verification.method).toBe('catalog');
    } finally {
      await sql(`DROP DATABASE "${copy}" WITH (FORCE)`, urlFor('postgres', db.url));
    }
  });

  it('a stored fingerprint that does not match means a full read, which records it again', async () => {
    await sql(`UPDATE preflight_verification SET fingerprint = 'tampered'`);
    const full = await preflight(['verify']);
    expect(full.exitCode).toBe(0);
    expect(full.report.verification.method).toBe('catalog');
    const replay = await preflight(['verify']);
    expect(replay.report.verification.method).toBe('fingerprint');
  });

  it('a stored result edited by hand is no result: read in full, recorded again', async () => {
    await sql(
      `UPDATE preflight_verification SET result = '{"findings": [{"severity": "error"}], "checkedBy": {}, "assertions": []}'`,
    );
    const full = await preflight(['run']);
    expect(full.exitCode).toBe(0);
    expect(full.report.verification.method).toBe('catalog');
    expect((await preflight(['run'])).report.verification.method).toBe('fingerprint');
  });

  it('a damaged preflight_verification never fails a deploy: it verifies in full and says so', async () => {
    await sql('ALTER TABLE preflight_verification DROP COLUMN result');
    try {
      for (let i = 0; i < 2; i += 1) {
        const result = await preflight(['run']);
        expect(result.exitCode).toBe(0);
        expect(result.report.verification.method).toBe('catalog');
        expect(logLines(result.stdout)).toContainEqual(
          expect.objectContaining({ event: 'verify.not-recorded', level: 'warn' }),
        );
      }
    } finally {
      await sql('DROP TABLE preflight_verification');
    }
    // Created again by the next run, which records its verification.
    expect((await preflight(['run'])).report.verification.method).toBe('catalog');
    expect((await preflight(['run'])).report.verification.method).toBe('fingerprint');
  });

  it('an edited expected-schema file is a new key: read in full, its new assertion run', async () => {
    const dir = scratchDir();
    const file = path.join(dir, 'expected.json');
    copyFileSync(path.join(REPO_MIGRATIONS, 'expected-schema.json'), file);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { assertions: unknown[] };
    doc.assertions.push({ name: 'never true', sql: 'SELECT false' });
    writeFileSync(file, JSON.stringify(doc));
    const result = await preflight(['verify', '--expect', file]);
    expect(result.report.verification.method).toBe('catalog');
    expect(result.exitCode).toBe(8);
    expect(result.report.verification.findings).toEqual([
      expect.objectContaining({ category: 'assertions', object: 'never true' }),
    ]);
  });

  it('a large expected-schema file (its lookup sent behind the fingerprint) is replayed the same', async () => {
    const dir = scratchDir();
    const file = path.join(dir, 'expected.json');
    // The same schema, over 4 MiB: run hashes it only after the first statements went out.
    const text = readFileSync(path.join(REPO_MIGRATIONS, 'expected-schema.json'), 'utf8');
    writeFileSync(file, text + ' '.repeat(4 * 1024 * 1024 + 1) + '\n');
    const first = await preflight(['run', '--expect', file]);
    expect(first.exitCode).toBe(0);
    expect(first.report.verification.method).toBe('catalog');
    const second = await preflight(['run', '--expect', file]);
    expect(second.exitCode).toBe(0);
    expect(second.report.verification.method).toBe('fingerprint');
    expect(second.report.verification.checkedBy).toEqual(first.report.verification.checkedBy);
    // A deleted system row is data: found and put back on a fingerprint match all the same.
    await sql(`DELETE FROM team_roles WHERE name = 'Viewer'`);
    const third = await preflight(['run', '--expect', file]);
    expect(third.exitCode).toBe(0);
    expect(third.report.verification.method).toBe('fingerprint');
    expect(await db.query(`SELECT 1 FROM team_roles WHERE name = 'Viewer'`)).toHaveLength(1);
  });

  it('a large expected-schema file (read through a window, never whole) still finds drift', async () => {
    const dir = scratchDir();
    const file = path.join(dir, 'expected.json');
    // Over 1 MiB: hashed and its tables found through one buffer; the drifted table read again.
    const text = readFileSync(path.join(REPO_MIGRATIONS, 'expected-schema.json'), 'utf8');
    writeFileSync(file, text + ' '.repeat(2 * 1024 * 1024) + '\n');
    const copy = `${db.name}_large`;
    await sql(`CREATE DATABASE "${copy}" TEMPLATE "${db.name}"`, urlFor('postgres', db.url));
    const url = urlFor(copy, db.url);
    try {
      const passed = await preflight(['verify', '--expect', file], url);
      expect(passed.exitCode).toBe(0);
      await sql('ALTER TABLE users DROP COLUMN bio', url);
      for (const args of [[], ['--full-verify']]) {
        const result = await preflight(['verify', '--expect', file, ...args], url);
        expect([args, result.exitCode]).toEqual([args, 8]);
        expect(result.report.verification.method).toBe('catalog');
        expect(result.report.verification.findings).toContainEqual(
          expect.objectContaining({ kind: 'missing', object: 'public.users.bio' }),
        );
      }
    } finally {
      await sql(`DROP DATABASE "${copy}" WITH (FORCE)`, urlFor('postgres', db.url));
    }
  });

  it('an extra table is a warning that a fingerprint match still reports', async () => {
    await sql('CREATE TABLE scratch_notes (id int)');
    try {
      const full = await preflight(['run']);
      expect(full.report.verification.method).toBe('catalog');
      const replay = await preflight(['run']);
      expect(replay.report.verification.method).toBe('fingerprint');
      for (const result of [full, replay]) {
        expect(result.exitCode).toBe(0);
        expect(result.report.verification.findings).toEqual([
          expect.objectContaining({ kind: 'extra', object: 'public.scratch_notes' }),
        ]);
      }
      // --strict is another key: the extra table fails it, fingerprint or not.
      expect((await preflight(['verify', '--strict'])).exitCode).toBe(8);
    } finally {
      await sql('DROP TABLE scratch_notes');
    }
  });

  it('a deploy that migrates verifies in full, then the next one replays', async () => {
    const dir = scratchDir();
    const migrations = path.join(dir, 'migrations');
    cpSync(REPO_MIGRATIONS, migrations, { recursive: true });
    writeFileSync(
      path.join(migrations, '0099_audit_notes.sql'),
      'CREATE TABLE audit_notes (id int);\n',
    );
    const args = [
      'run',
      '--migrations',
      migrations,
      '--seeds',
      REPO_SEEDS,
      '--expect',
      path.join(REPO_MIGRATIONS, 'expected-schema.json'),
    ];
    try {
      const deploy = await preflight(args);
      expect(deploy.exitCode).toBe(0);
      expect(deploy.report.verification.method).toBe('catalog');
      expect(deploy.report.verification.findings).toEqual([
        expect.objectContaining({ kind: 'extra', object: 'public.audit_notes' }),
      ]);
      const next = await preflight(args);
      expect(next.report.verification.method).toBe('fingerprint');
      expect(next.report.verification.findings).toEqual(deploy.report.verification.findings);
    } finally {
      await sql(`DROP TABLE audit_notes; DELETE FROM preflight_migrations WHERE version = '99'`);
    }
  });

  it('verify by a role that may not write preflight_verification still passes', async () => {
    const role = `pf_reader_${db.name.slice(-6)}`;
    // A password, for servers that check them (the embedded one of TEST_PG_MAJOR).
    const password = `Reader-${db.name.slice(-6)}-pw`;
    await sql(`CREATE ROLE ${role} LOGIN PASSWORD '${password}';
      GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role};
      UPDATE preflight_verification SET fingerprint = 'stale'`);
    try {
      const url = new URL(db.url);
      url.username = role;
      url.password = password;
      const result = await preflight(['verify'], url.toString());
      expect(result.exitCode).toBe(0);
      expect(result.report.verification.method).toBe('catalog');
      expect(logLines(result.stdout)).toContainEqual(
        expect.objectContaining({ event: 'verify.not-recorded' }),
      );
    } finally {
      await sql(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });

  it('a database migrated without a verification gets its verified state from the next run', async () => {
    const other = await createTestDatabase('pf_state_migrated');
    try {
      expect((await preflight(['migrate'], other.url)).exitCode).toBe(0);
      const first = await preflight(['run'], other.url);
      expect(first.exitCode).toBe(0);
      expect(first.report.verification.method).toBe('catalog');
      expect((await preflight(['run'], other.url)).report.verification.method).toBe('fingerprint');
    } finally {
      await other.drop();
    }
  });

  it('verify and status look it up as run does; without preflight_verification they read in full', async () => {
    const other = await createTestDatabase('pf_state_readonly');
    try {
      expect((await preflight(['run'], other.url)).exitCode).toBe(0);
      // No table: the lookup fails on the server, and is no error.
      await sql('DROP TABLE preflight_verification', other.url);
      for (const command of ['verify', 'status']) {
        const read = await preflight([command], other.url);
        expect(read.exitCode).toBe(0);
        expect(read.report.verification.method).toBe('catalog');
        // Nothing to record it into: the catalog is not fingerprinted for nothing.
        expect(logLines(read.stdout)).toContainEqual(
          expect.objectContaining({ event: 'verify.not-fingerprinted' }),
        );
      }
      expect((await preflight(['run'], other.url)).report.verification.method).toBe('catalog');
      for (const command of ['verify', 'status']) {
        const replayed = await preflight([command], other.url);
        expect(replayed.exitCode).toBe(0);
        expect(replayed.report.verification.method).toBe('fingerprint');
      }
      // A change: the fingerprint taken first no longer matches, so both read in full and find it.
      await sql('ALTER TABLE team_roles ALTER COLUMN name DROP NOT NULL', other.url);
      for (const command of ['verify', 'status']) {
        const drift = await preflight([command], other.url);
        expect(drift.exitCode).toBe(8);
        expect(drift.report.verification.method).toBe('catalog');
        expect(drift.report.verification.findings).toContainEqual(
          expect.objectContaining({ object: 'public.team_roles.name', severity: 'error' }),
        );
      }
    } finally {
      await other.drop();
    }
  });

  it('works the same with the prisma layout and its history table', async () => {
    const other = await createTestDatabase('pf_state_prisma');
    const dir = scratchDir();
    const migrations = path.join(dir, 'prisma');
    mkdirSync(path.join(migrations, '20240101000000_init'), { recursive: true });
    writeFileSync(
      path.join(migrations, '20240101000000_init', 'migration.sql'),
      'CREATE TABLE "User" (id serial PRIMARY KEY, email text NOT NULL UNIQUE);\n',
    );
    writeFileSync(path.join(migrations, 'migration_lock.toml'), 'provider = "postgresql"\n');
    mkdirSync(path.join(dir, 'seeds'));
    const expectFile = path.join(dir, 'expected.json');
    // Replaced by the snapshot below, which keeps a file's assertions (this one has none).
    writeFileSync(expectFile, '{ "version": 1 }\n');
    const args = [
      '--migrations',
      migrations,
      '--seeds',
      path.join(dir, 'seeds'),
      '--expect',
      expectFile,
    ];
    try {
      expect((await preflight(['migrate', '--migrations', migrations], other.url)).exitCode).toBe(
        0,
      );
      expect(
        (await preflight(['snapshot', '--out', expectFile, '--expect', expectFile], other.url))
          .exitCode,
      ).toBe(0);
      const first = await preflight(['run', ...args], other.url);
      expect({ exit: first.exitCode, findings: first.report.verification.findings }).toEqual({
        exit: 0,
        findings: [],
      });
      expect(first.report.verification.method).toBe('catalog');
      const second = await preflight(['run', ...args], other.url);
      expect(second.exitCode).toBe(0);
      expect(second.report.verification.method).toBe('fingerprint');
      expect(second.report.verification.checkedBy.tables).toBe(1);
    } finally {
      await other.drop();
    }
  });
});

describe('the fingerprint of the first lock try', () => {
  let fresh: TestDatabase;
  beforeAll(async () => {
    fresh = await createTestDatabase('pf_state_lock');
  });
  afterAll(async () => {
    await fresh.drop();
  });

  it('is not used when another session held the lock: drift made while waiting is found', async () => {
    expect((await preflight(['run'], fresh.url)).exitCode).toBe(0);
    expect((await preflight(['run'], fresh.url)).report.verification.method).toBe('fingerprint');

    // Another deploy holds the lock; preflight's first try fails, with a fingerprint sent behind it.
    const holder = await holdLock(fresh.url);
    const file = path.join(scratchDir(), 'report.json');
    const cli = startCli(['run', '--report', file], { env: { DATABASE_URL: fresh.url } });
    try {
      await lockWaitLogged(cli);
      // What that deploy changes before it lets go (and it records no verified state).
      await holder.query('DROP INDEX activity_logs_admin_id_idx');
      await holder.query('SELECT pg_advisory_unlock_all()');
    } finally {
      await holder.end();
    }
    const result = await cli;
    const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
    expect(result.exitCode).toBe(8);
    expect(report.verification.method).toBe('catalog');
    expect(report.verification.findings).toEqual([
      expect.objectContaining({
        kind: 'missing',
        object: 'public.activity_logs.activity_logs_admin_id_idx',
      }),
    ]);
  });
});

describe('a first deploy to an empty database', () => {
  let fresh: TestDatabase;
  let proxy: CuttingProxy;
  beforeEach(async () => {
    fresh = await createTestDatabase('pf_state_first');
    proxy = await proxyTo(fresh.url);
  });
  afterEach(async () => {
    await proxy.close();
    await fresh.drop();
  });

  /** The server's errors on every connection: the table a 42P01 names, any other by code and text. */
  const failedReads = (): string[] =>
    proxy
      .serverErrors()
      .map(({ code, message }) =>
        code === '42P01' ? (/"(\w+)"/.exec(message)?.[1] ?? message) : `${code} ${message}`,
      );

  it('reads preflight_verification once, before its migrations, not again after them', async () => {
    const first = await preflight(['run'], proxy.via(fresh.url));
    expect(first.exitCode).toBe(0);
    expect(first.report.verification.method).toBe('catalog');
    // The history and the lookup go out with the first try of the lock, without a probe: on an
    // empty database each fails once, and nothing else does.
    expect(failedReads().sort()).toEqual(['preflight_migrations', 'preflight_verification']);
    // The verification created the table and recorded its pass.
    expect((await preflight(['run'], fresh.url)).report.verification.method).toBe('fingerprint');
  });

  it('after waiting for the lock, reads each table once more under the lock, and not after its migrations', async () => {
    const holder = await holdLock(fresh.url);
    const cli = startCli(['run'], { env: { DATABASE_URL: proxy.via(fresh.url) } });
    try {
      await lockWaitLogged(cli);
      await holder.query('SELECT pg_advisory_unlock_all()');
    } finally {
      await holder.end();
    }
    expect((await cli).exitCode).toBe(0);
    // Each read once with the first try and once under the lock (the other deploy could have
    // made either table meanwhile), and nothing after the migrations.
    expect(failedReads().sort()).toEqual([
      'preflight_migrations',
      'preflight_migrations',
      'preflight_verification',
      'preflight_verification',
    ]);
    expect((await preflight(['run'], fresh.url)).report.verification.method).toBe('fingerprint');
  });
});
