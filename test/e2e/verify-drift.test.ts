import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { adminUrl, createTestDatabase, runSql, urlFor, type TestDatabase } from '../helpers/db.js';
import { logLines, runCli, scratchDir } from '../helpers/cli.js';
import { ORIGIN_TABLES } from '../helpers/origin.js';

let golden: TestDatabase;
const created: string[] = [];

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A copy of the golden database (migrated and seeded by `preflight run`). */
async function copyOfGolden(): Promise<{ url: string; sql: (text: string) => Promise<void> }> {
  const name = `${golden.name}_c${created.length}`;
  created.push(name);
  await admin((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${golden.name}"`));
  const url = urlFor(name);
  return {
    url,
    sql: (text) => runSql(url, text),
  };
}

beforeAll(async () => {
  golden = await createTestDatabase('golden');
  const result = await runCli(['run'], { env: { DATABASE_URL: golden.url } });
  expect(result.exitCode).toBe(0);
});

afterAll(async () => {
  await admin(async (c) => {
    for (const name of created) await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
  await golden.drop();
});

interface Report {
  exitCode: number;
  verification: {
    findings: Array<{
      kind: string;
      object: string;
      category: string;
      property?: string;
      have?: unknown;
      want?: unknown;
    }>;
  };
}

async function verify(
  url: string,
  extra: string[] = [],
): Promise<{ exitCode: number; stderr: string; report: Report }> {
  const dir = scratchDir();
  const file = path.join(dir, 'report.json');
  const result = await runCli(['verify', '--report', file, ...extra], {
    env: { DATABASE_URL: url },
  });
  return {
    exitCode: result.exitCode,
    stderr: result.stderr,
    report: JSON.parse(readFileSync(file, 'utf8')) as Report,
  };
}

describe('preflight verify on the shipped database', () => {
  it('is green right after preflight run', async () => {
    const db = await copyOfGolden();
    const result = await verify(db.url);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain('DATABASE IS IN SYNC');
    expect(result.report.verification.findings).toEqual([]);
  });

  it.each([
    [
      'column users.bio dropped',
      'ALTER TABLE users DROP COLUMN bio',
      'missing',
      'public.users.bio',
    ],
    [
      'a column type changed',
      'ALTER TABLE users ALTER COLUMN phone TYPE varchar(40)',
      'different',
      'public.users.phone',
    ],
    [
      'a NOT NULL dropped',
      'ALTER TABLE users ALTER COLUMN email DROP NOT NULL',
      'different',
      'public.users.email',
    ],
    [
      'a default changed',
      'ALTER TABLE users ALTER COLUMN is_active SET DEFAULT false',
      'different',
      'public.users.is_active',
    ],
    [
      'trigger update_storage_on_attachment_insert dropped',
      'DROP TRIGGER update_storage_on_attachment_insert ON invoice_attachments',
      'missing',
      'update_storage_on_attachment_insert',
    ],
    [
      'a trigger disabled',
      'ALTER TABLE users DISABLE TRIGGER create_default_notification_preferences',
      'different',
      'create_default_notification_preferences',
    ],
    [
      'a trigger function body replaced',
      'CREATE OR REPLACE FUNCTION update_updated_at_column() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$',
      'different',
      'public.update_updated_at_column()',
    ],
    [
      "a foreign key's ON DELETE changed",
      'ALTER TABLE invoice_attachments DROP CONSTRAINT invoice_attachments_invoice_id_fkey, ADD CONSTRAINT invoice_attachments_invoice_id_fkey FOREIGN KEY (invoice_id) REFERENCES invoices(id) ON DELETE SET NULL',
      'different',
      'invoice_attachments_invoice_id_fkey',
    ],
    [
      'a check constraint dropped',
      'ALTER TABLE payments DROP CONSTRAINT payments_amount_check',
      'missing',
      'payments_amount_check',
    ],
    ['an index dropped', 'DROP INDEX invoices_vendor_id_idx', 'missing', 'invoices_vendor_id_idx'],
    [
      'an enum label added',
      "ALTER TYPE invoice_status ADD VALUE 'disputed'",
      'different',
      'public.invoice_status',
    ],
    [
      "a view's definition changed",
      'CREATE OR REPLACE VIEW customer_storage_summary AS SELECT * FROM customer_storage_summary_base',
      'different',
      'public.customer_storage_summary',
    ],
    [
      'role Accountant deleted',
      "DELETE FROM team_roles WHERE name = 'Accountant'",
      'missing',
      'Accountant',
    ],
  ])('%s: exit 8, the report names it', async (_title, drift, kind, object) => {
    const db = await copyOfGolden();
    if (drift.includes('customer_storage_summary_base')) {
      const def = await firstValue(
        db.url,
        "SELECT pg_get_viewdef('customer_storage_summary'::regclass) AS v",
      );
      await db.sql(
        `CREATE OR REPLACE VIEW customer_storage_summary AS ${def.replace(/;\s*$/, '')} LIMIT 1000`,
      );
    } else {
      await db.sql(drift);
    }
    const result = await verify(db.url);
    expect(result.exitCode).toBe(8);
    expect(result.stderr).toContain('DATABASE IS OUT OF SYNC');
    const found = result.report.verification.findings.filter((f) => f.object.includes(object));
    expect(found.length).toBeGreaterThan(0);
    expect(found.map((f) => f.kind)).toContain(kind);
    expect(result.stderr).toContain(object);
    if (kind === 'different')
      expect(found.some((f) => f.have !== undefined && f.want !== undefined)).toBe(true);
  });

  it('an INVALID index fails', async () => {
    const db = await copyOfGolden();
    await db.sql('CREATE TABLE dup (v int); INSERT INTO dup VALUES (1), (1)');
    await db.sql('CREATE UNIQUE INDEX CONCURRENTLY dup_v_idx ON dup (v)').catch(() => undefined);
    const result = await verify(db.url);
    expect(result.exitCode).toBe(8);
    expect(
      result.report.verification.findings.some(
        (f) => f.kind === 'invalid' && f.object.includes('dup_v_idx'),
      ),
    ).toBe(true);
  });

  it('an extra table warns (exit 0), and fails with --strict (exit 8)', async () => {
    const db = await copyOfGolden();
    await db.sql('CREATE TABLE scratchpad (id int)');
    const lenient = await verify(db.url);
    expect(lenient.exitCode).toBe(0);
    expect(lenient.report.verification.findings).toEqual([
      expect.objectContaining({ kind: 'extra', object: 'public.scratchpad' }),
    ]);
    const strict = await verify(db.url, ['--strict']);
    expect(strict.exitCode).toBe(8);
  });

  it('preflight run puts a deleted system role back, then verifies green', async () => {
    const db = await copyOfGolden();
    await db.sql("DELETE FROM team_roles WHERE name = 'Accountant'");
    expect((await verify(db.url)).exitCode).toBe(8);
    const run = await runCli(['run'], { env: { DATABASE_URL: db.url } });
    expect(run.exitCode).toBe(0);
    const seeded = logLines(run.stdout).filter((l) => l.event === 'seed.applied');
    expect(seeded.find((l) => String(l.file).includes('system_roles'))).toMatchObject({
      inserted: 1,
      updated: 0,
    });
    expect((await verify(db.url)).exitCode).toBe(0);
  });

  it('a second run of the seeds inserts and updates nothing', async () => {
    const db = await copyOfGolden();
    const run = await runCli(['seed'], { env: { DATABASE_URL: db.url } });
    expect(run.exitCode).toBe(0);
    const seeded = logLines(run.stdout).filter((l) => l.event === 'seed.applied');
    expect(seeded).toHaveLength(2);
    for (const line of seeded) expect(line).toMatchObject({ inserted: 0, updated: 0 });
  });
});

describe('a hand-written partial expected-schema file', () => {
  const COLUMNS: Record<string, string[]> = {
    users: ['bio', 'is_temp_password', 'temp_password_expires_at', 'must_change_password'],
    customers: ['storage_used', 'storage_limit', 'storage_last_calculated', 'licenseNumber'],
    team_roles: ['can_create_invoices', 'can_manage_projects', 'can_view_reports'],
  };

  function partialFile(): string {
    const dir = scratchDir();
    mkdirSync(path.join(dir, 'x'));
    const tables = Object.fromEntries(
      ORIGIN_TABLES.map((t) => [`public.${t}`, COLUMNS[t] ? { columns: COLUMNS[t] } : {}]),
    );
    const file = path.join(dir, 'x', 'partial.json');
    writeFileSync(
      file,
      JSON.stringify({
        tables,
        assertions: [
          {
            name: 'five system roles',
            sql: 'select count(*) = 5 from team_roles where is_system_role',
          },
        ],
      }),
    );
    return file;
  }

  it('passes on the shipped database and fails when a listed column is dropped', async () => {
    const db = await copyOfGolden();
    const file = partialFile();
    expect((await verify(db.url, ['--expect', file])).exitCode).toBe(0);
    await db.sql('ALTER TABLE customers DROP COLUMN "licenseNumber"');
    const result = await verify(db.url, ['--expect', file]);
    expect(result.exitCode).toBe(8);
    expect(result.report.verification.findings).toEqual([
      expect.objectContaining({ kind: 'missing', object: 'public.customers.licenseNumber' }),
    ]);
  });

  it('fails when a listed table is dropped, and when an assertion is false', async () => {
    const db = await copyOfGolden();
    const file = partialFile();
    await db.sql('DROP TABLE notification_logs');
    await db
      .sql(
        "UPDATE team_roles SET is_system_role = false, customer_id = (SELECT id FROM customers LIMIT 1) WHERE name = 'Viewer'",
      )
      .catch(() => db.sql("DELETE FROM team_roles WHERE name = 'Viewer'"));
    const result = await verify(db.url, ['--expect', file, '--seeds', scratchDir()]);
    expect(result.exitCode).toBe(8);
    const kinds = result.report.verification.findings.map((f) => `${f.kind} ${f.object}`);
    expect(kinds).toContain('missing public.notification_logs');
    expect(kinds.some((k) => k.startsWith('assertion-failed'))).toBe(true);
  });
});

async function firstValue(url: string, sql: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ v: string }>(sql);
    return result.rows[0]?.v ?? '';
  } finally {
    await client.end();
  }
}

describe('preflight verify and the migration history', () => {
  it('a pending migration is drift: exit 8, the report names it and says how to apply it', async () => {
    const db = await copyOfGolden();
    const dir = scratchDir({ migrations: true, seeds: true });
    writeFileSync(
      path.join(dir, 'migrations', '0013_add_audit.sql'),
      'CREATE TABLE audit (id int);\n',
    );
    const result = await runCli(['verify'], { cwd: dir, env: { DATABASE_URL: db.url } });
    expect(result.exitCode).toBe(8);
    expect(result.stderr).toMatch(/✗ Migrations\s+12\/13 applied, 1 pending/);
    expect(result.stderr).toContain('0013_add_audit.sql');
    expect(result.stderr).toContain('preflight migrate');
  });
});
