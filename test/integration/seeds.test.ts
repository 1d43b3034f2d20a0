import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { withTransaction } from '../../src/connection/session.js';
import { SeedError } from '../../src/errors.js';
import { applySeeds } from '../../src/seeds/apply.js';
import { readSeeds, type SeedFile } from '../../src/seeds/source.js';
import { verifySeedRows } from '../../src/seeds/verify-rows.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const roots: string[] = [];
let db: TestDatabase;
let client: pg.Client;

beforeEach(async () => {
  db = await createTestDatabase('pf_seeds');
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});

afterEach(async () => {
  await client.end();
  await db.drop();
});

afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** Applies the repository's migrations in order, each file as one simple query, as psql -f would. */
async function migrate(): Promise<void> {
  const dir = path.resolve('migrations');
  for (const name of readdirSync(dir)
    .filter((n) => n.endsWith('.sql'))
    .sort()) {
    await client.query(readFileSync(path.join(dir, name), 'utf8'));
  }
}

/** A `seeds` directory with the given files, read by readSeeds. */
function seedsOf(files: Record<string, unknown>): SeedFile[] {
  const root = mkdtempSync(path.join(tmpdir(), 'pf-seeds-'));
  roots.push(root);
  const dir = path.join(root, 'seeds');
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(
      path.join(dir, name),
      typeof content === 'string' ? content : JSON.stringify(content, null, 2),
    );
  }
  return readSeeds(dir);
}

/** Applies the seeds in one transaction, as the pipeline does. */
const seed = (seeds: readonly SeedFile[]) =>
  withTransaction(client, () => applySeeds(client, seeds));

async function seedError(seeds: readonly SeedFile[]): Promise<SeedError> {
  const error = await seed(seeds).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SeedError);
  expect((error as SeedError).exitCode).toBe(7);
  return error as SeedError;
}

const count = async (sql: string): Promise<number> =>
  Number((await client.query<{ n: string }>(sql)).rows[0]?.n);

describe('the shipped seeds on the shipped migrations', () => {
  const shipped = () => readSeeds(path.resolve('seeds'));

  it('insert 5 + 5 rows, then change nothing on the second run, and verify clean', async () => {
    await migrate();
    expect(await seed(shipped())).toEqual([
      { file: '010_system_roles.json', inserted: 5, updated: 0 },
      { file: '020_notification_templates.json', inserted: 5, updated: 0 },
    ]);
    const stamps = await client.query(
      'SELECT type, updated_at FROM notification_templates ORDER BY type',
    );
    expect(await seed(shipped())).toEqual([
      { file: '010_system_roles.json', inserted: 0, updated: 0 },
      { file: '020_notification_templates.json', inserted: 0, updated: 0 },
    ]);
    const after = await client.query(
      'SELECT type, updated_at FROM notification_templates ORDER BY type',
    );
    expect(after.rows).toEqual(stamps.rows);
    expect(await count('SELECT count(*) AS n FROM team_roles WHERE is_system_role')).toBe(5);
    expect(await verifySeedRows(client, shipped())).toEqual([]);
  });

  it('upsert rewrites an edited template; insert-missing keeps an edited role; verify sees both', async () => {
    await migrate();
    await seed(shipped());
    await client.query(
      "UPDATE notification_templates SET subject = 'Approved!', is_active = false WHERE type = 'invoice_approved'",
    );
    await client.query("UPDATE team_roles SET can_manage_team = true WHERE name = 'Viewer'");
    await client.query("DELETE FROM team_roles WHERE name = 'Accountant'");

    const findings = await verifySeedRows(client, shipped());
    expect(findings).toEqual([
      {
        kind: 'missing',
        category: 'system data',
        severity: 'error',
        object: 'team_roles[name=Accountant]',
        message: 'team_roles row name=Accountant is missing (seeds/010_system_roles.json)',
      },
      {
        kind: 'different',
        category: 'system data',
        severity: 'error',
        object: 'notification_templates[type=invoice_approved]',
        property: 'subject',
        have: 'Approved!',
        want: 'Invoice {{invoice_number}} was approved',
        message:
          'notification_templates row type=invoice_approved: subject is "Approved!", seeds/020_notification_templates.json wants "Invoice {{invoice_number}} was approved"',
      },
      expect.objectContaining({ property: 'is_active', have: false, want: true }),
    ]);

    expect(await seed(shipped())).toEqual([
      { file: '010_system_roles.json', inserted: 1, updated: 0 },
      { file: '020_notification_templates.json', inserted: 0, updated: 1 },
    ]);
    const viewer = await client.query(
      "SELECT can_manage_team FROM team_roles WHERE name = 'Viewer'",
    );
    expect(viewer.rows).toEqual([{ can_manage_team: true }]);
    expect(await verifySeedRows(client, shipped())).toEqual([]);
  });
});

describe('checks before writing', () => {
  it('rejects a key without a unique index before anything is written', async () => {
    await client.query('CREATE TABLE plans (code text PRIMARY KEY, name text)');
    await client.query('CREATE TABLE team_roles (id serial PRIMARY KEY, name text NOT NULL)');
    const seeds = seedsOf({
      '010_plans.json': {
        table: 'plans',
        key: ['code'],
        mode: 'upsert',
        rows: [{ code: 'pro', name: 'Pro' }],
      },
      '020_roles.json': {
        table: 'team_roles',
        key: ['name'],
        mode: 'insert-missing',
        rows: [{ name: 'Owner' }],
      },
    });
    // Without a transaction: the check itself must stop before the first file is written.
    const error = await applySeeds(client, seeds).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SeedError);
    expect((error as SeedError).message).toBe(
      'a seed does not fit the database:\n' +
        '  - seeds/020_roles.json: key (name) of team_roles has no unique index: add a unique constraint on (name), or change "key"\n' +
        'The seed transaction was rolled back: nothing of the seeds was written.',
    );
    expect(await count('SELECT count(*) AS n FROM plans')).toBe(0);
  });

  it('names every unknown table and column, and a partial unique index', async () => {
    await client.query(
      'CREATE TABLE team_roles (id serial PRIMARY KEY, name text NOT NULL UNIQUE)',
    );
    await client.query('CREATE TABLE tags (name text NOT NULL)');
    await client.query("CREATE UNIQUE INDEX tags_name_live ON tags (name) WHERE name <> ''");
    const seeds = seedsOf({
      '010_roles.json': {
        table: 'team_roles',
        key: ['name'],
        mode: 'insert-missing',
        rows: [
          { name: 'Owner', can_fly: true },
          { name: 'Pilot', wings: 2 },
        ],
      },
      '020_missing.json': { table: 'billing.plans', key: ['code'], mode: 'upsert', rows: [] },
      '030_tags.json': { table: 'tags', key: ['name'], mode: 'upsert', rows: [{ name: 'x' }] },
    });
    const error = await seedError(seeds);
    expect(error.details.problems).toEqual([
      'seeds/010_roles.json: column team_roles.can_fly does not exist',
      'seeds/010_roles.json: column team_roles.wings does not exist',
      'seeds/020_missing.json: table billing.plans does not exist in schema billing: run the migrations that create it, or fix "table"',
      'seeds/030_tags.json: key (name) of tags has no unique index usable by ON CONFLICT (tags_name_live is partial): add a unique constraint on (name), or change "key"',
    ]);
  });
});

describe('SQL seeds', () => {
  it('reports a failing SQL seed with line, column and caret; the caller rolls back every seed', async () => {
    await client.query(
      'CREATE TABLE team_roles (id serial PRIMARY KEY, name text NOT NULL UNIQUE)',
    );
    const seeds = seedsOf({
      '010_roles.json': {
        table: 'team_roles',
        key: ['name'],
        mode: 'insert-missing',
        rows: [{ name: 'Owner' }],
      },
      '020_fix.sql': "INSERT INTO team_roles (name) VALUES ('Viewer');\n\nUPDATE nope SET x = 1;\n",
    });
    const error = await seedError(seeds);
    expect(error.message).toBe(
      [
        'seed failed: seeds/020_fix.sql:3:8: relation "nope" does not exist (SQLSTATE 42P01)',
        '    3 | UPDATE nope SET x = 1;',
        '      |        ^',
        'The seed transaction was rolled back: nothing of the seeds was written.',
      ].join('\n'),
    );
    expect(error.details).toMatchObject({
      file: '020_fix.sql',
      line: 3,
      column: 8,
      sqlstate: '42P01',
    });
    expect(await count('SELECT count(*) AS n FROM team_roles')).toBe(0);
  });

  it('counts what the server reports, and may create what a later declarative seed fills', async () => {
    const seeds = seedsOf({
      '010_create.sql':
        'CREATE TABLE IF NOT EXISTS flags (name text PRIMARY KEY, enabled boolean NOT NULL DEFAULT false);\n' +
        "INSERT INTO flags VALUES ('a', true), ('b', false) ON CONFLICT DO NOTHING;\n" +
        "UPDATE flags SET enabled = true WHERE name = 'b' AND NOT enabled;",
      '020_flags.json': {
        table: 'flags',
        key: ['name'],
        mode: 'upsert',
        rows: [{ name: 'b', enabled: false }, { name: 'c' }],
      },
    });
    expect(await seed(seeds)).toEqual([
      { file: '010_create.sql', inserted: 2, updated: 1 },
      { file: '020_flags.json', inserted: 1, updated: 1 },
    ]);
    expect(await seed(seeds)).toEqual([
      { file: '010_create.sql', inserted: 0, updated: 1 },
      { file: '020_flags.json', inserted: 0, updated: 1 },
    ]);
  });
});

describe('declarative values', () => {
  it('keeps camel-case identifiers and schema-qualified tables', async () => {
    await client.query('CREATE SCHEMA fleet');
    await client.query(
      'CREATE TABLE fleet."Driver" (id serial PRIMARY KEY, "licenseNumber" text NOT NULL UNIQUE, "fullName" text)',
    );
    const rows = [
      { licenseNumber: 'B-1', fullName: 'Ada' },
      { licenseNumber: 'B-2', fullName: 'Grace' },
    ];
    const seeds = seedsOf({
      'd.json': { table: 'fleet.Driver', key: ['licenseNumber'], mode: 'upsert', rows },
    });
    expect(await seed(seeds)).toEqual([{ file: 'd.json', inserted: 2, updated: 0 }]);
    await client.query(
      `UPDATE fleet."Driver" SET "fullName" = 'Bob' WHERE "licenseNumber" = 'B-2'`,
    );
    expect(await verifySeedRows(client, seeds)).toEqual([
      expect.objectContaining({
        object: 'fleet.Driver[licenseNumber=B-2]',
        property: 'fullName',
        have: 'Bob',
      }),
    ]);
    expect(await seed(seeds)).toEqual([{ file: 'd.json', inserted: 0, updated: 1 }]);
  });

  it('writes jsonb, enum, uuid, boolean, timestamp, numeric and array values, with defaults for absent columns', async () => {
    await client.query("CREATE TYPE channel AS ENUM ('email', 'sms')");
    await client.query(`CREATE TABLE settings (
      id uuid PRIMARY KEY,
      name varchar(20) NOT NULL UNIQUE,
      channel channel NOT NULL DEFAULT 'email',
      enabled boolean NOT NULL DEFAULT true,
      starts_at timestamptz,
      price numeric(10,2),
      tags text[],
      config jsonb,
      raw json)`);
    const rows = [
      {
        id: '00000000-0000-4000-8000-000000000001',
        name: 'a',
        channel: 'sms',
        enabled: false,
        starts_at: '2025-01-02T03:04:05Z',
        price: 12.5,
        tags: ['x', 'y "z"'],
        config: { limits: [1, 2], nested: { on: true } },
        raw: { b: 1, a: 2 },
      },
      { id: '00000000-0000-4000-8000-000000000002', name: 'b', config: 'just a string' },
    ];
    const seeds = seedsOf({ 's.json': { table: 'settings', key: ['name'], mode: 'upsert', rows } });
    expect(await seed(seeds)).toEqual([{ file: 's.json', inserted: 2, updated: 0 }]);
    expect(await seed(seeds)).toEqual([{ file: 's.json', inserted: 0, updated: 0 }]);
    const stored = await client.query(
      "SELECT name, channel::text, enabled, starts_at = '2025-01-02 03:04:05+00' AS at, price::text, tags, config, raw FROM settings ORDER BY name",
    );
    expect(stored.rows).toEqual([
      {
        name: 'a',
        channel: 'sms',
        enabled: false,
        at: true,
        price: '12.50',
        tags: ['x', 'y "z"'],
        config: { limits: [1, 2], nested: { on: true } },
        raw: { b: 1, a: 2 },
      },
      {
        name: 'b',
        channel: 'email',
        enabled: true,
        at: null,
        price: null,
        tags: null,
        config: 'just a string',
        raw: null,
      },
    ]);
    expect(await verifySeedRows(client, seeds)).toEqual([]);
  });

  it('names the row and column of a value the column cannot take', async () => {
    await client.query('CREATE TABLE flags (name text PRIMARY KEY, enabled boolean)');
    const seeds = seedsOf({
      'f.json': {
        table: 'flags',
        key: ['name'],
        mode: 'insert-missing',
        rows: [
          { name: 'a', enabled: true },
          { name: 'b', enabled: 'maybe' },
        ],
      },
    });
    const error = await seedError(seeds);
    expect(error.message).toBe(
      'seeds/f.json: rows[1] (name=b), column enabled: invalid input syntax for type boolean: "maybe" (SQLSTATE 22P02)\n' +
        '  while writing flags\n' +
        'The seed transaction was rolled back: nothing of the seeds was written.',
    );
    expect(await count('SELECT count(*) AS n FROM flags')).toBe(0);
  });
});

describe('verifySeedRows', () => {
  it('reports a missing table once per file, and a missing column', async () => {
    await client.query('CREATE TABLE tags (name text PRIMARY KEY)');
    const seeds = seedsOf({
      'a.json': {
        table: 'team_roles',
        key: ['name'],
        mode: 'insert-missing',
        rows: [{ name: 'a' }, { name: 'b' }],
      },
      'b.json': {
        table: 'tags',
        key: ['name'],
        mode: 'upsert',
        rows: [{ name: 'x', color: 'red' }],
      },
    });
    expect(await verifySeedRows(client, seeds)).toEqual([
      {
        kind: 'missing',
        category: 'system data',
        severity: 'error',
        object: 'team_roles',
        message: 'table team_roles is missing: the 2 row(s) of seeds/a.json cannot be checked',
      },
      {
        kind: 'missing',
        category: 'system data',
        severity: 'error',
        object: 'tags.color',
        message: 'column tags.color is missing (seeds/b.json sets it)',
      },
      expect.objectContaining({ kind: 'missing', object: 'tags[name=x]' }),
    ]);
  });

  it('on a pipelined client (every statement sent at once): the same findings, and the first error in order', async () => {
    await client.query(
      'CREATE TABLE tags (name text PRIMARY KEY, color text); CREATE TABLE sizes (name text PRIMARY KEY, n int)',
    );
    await client.query("INSERT INTO tags VALUES ('x', 'blue')");
    const pipelined = new pg.Client({ connectionString: db.url, pipeline: true });
    await pipelined.connect();
    try {
      const fine = seedsOf({
        'a.json': {
          table: 'tags',
          key: ['name'],
          mode: 'upsert',
          rows: [{ name: 'x', color: 'red' }],
        },
        'b.json': { table: 'sizes', key: ['name'], mode: 'upsert', rows: [{ name: 's', n: 1 }] },
        'c.json': { table: 'nowhere', key: ['name'], mode: 'upsert', rows: [{ name: 'y' }] },
      });
      const findings = await verifySeedRows(pipelined, fine);
      expect(findings).toEqual(await verifySeedRows(client, fine));
      expect(findings.map((f) => f.object)).toEqual(['tags[name=x]', 'sizes[name=s]', 'nowhere']);
      const broken = seedsOf({
        'a.json': {
          table: 'tags',
          key: ['name'],
          mode: 'upsert',
          rows: [{ name: 'x', color: 'red' }],
        },
        'b.json': {
          table: 'sizes',
          key: ['name'],
          mode: 'upsert',
          rows: [{ name: 's', n: 'many' }],
        },
        'c.json': {
          table: 'sizes',
          key: ['name'],
          mode: 'upsert',
          rows: [{ name: 't', n: 'few' }],
        },
      });
      await expect(verifySeedRows(pipelined, broken)).rejects.toThrow(
        /seeds\/b\.json: rows cannot be checked: rows\[0\], column n: invalid input syntax for type integer/,
      );
      // The session goes on: nothing was left half-answered.
      expect((await pipelined.query<{ ok: boolean }>('SELECT true AS ok')).rows).toEqual([
        { ok: true },
      ]);
    } finally {
      await pipelined.end();
    }
  });

  it('writes nothing', async () => {
    await client.query('CREATE TABLE tags (name text PRIMARY KEY, color text)');
    const seeds = seedsOf({
      'b.json': {
        table: 'tags',
        key: ['name'],
        mode: 'upsert',
        rows: [{ name: 'x', color: 'red' }],
      },
    });
    await client.query('BEGIN READ ONLY');
    const findings = await verifySeedRows(client, seeds);
    await client.query('COMMIT');
    expect(findings.map((f) => f.message)).toEqual(['tags row name=x is missing (seeds/b.json)']);
    expect(await count('SELECT count(*) AS n FROM tags')).toBe(0);
  });
});
