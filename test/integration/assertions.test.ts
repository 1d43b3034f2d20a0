import pg from 'pg';
import { runAssertions, runAssertionsAhead } from '../../src/schema/assertions.js';
import type { Assertion } from '../../src/schema/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const SETUP = `
CREATE TABLE team_roles (name text PRIMARY KEY, is_system_role boolean NOT NULL);
INSERT INTO team_roles VALUES
  ('Owner', true), ('Admin', true), ('Member', true), ('Viewer', true), ('Accountant', true),
  ('Custom', false);
`;

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('pf_assert');
  await db.query(SETUP);
});

afterAll(async () => {
  await db.drop();
});

const assertion = (name: string, sql: string): Assertion => ({ name, sql });

// preflight's own sessions are pipelined (queries made together go out together), and then run
// plain queries all at once; every case must come out the same either way.
describe.each([
  ['one query at a time', false],
  ['pipelined', true],
])('runAssertions, on a client sending %s', (_how, pipeline) => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: db.url, pipeline });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
  });

  it('returns no finding when every assertion is true', async () => {
    const findings = await runAssertions(client, [
      assertion('five system roles', 'select count(*) = 5 from team_roles where is_system_role'),
      assertion('an owner exists', "select exists (select 1 from team_roles where name = 'Owner')"),
    ]);
    expect(findings).toEqual([]);
  });

  it('reports a false assertion as an error finding', async () => {
    const findings = await runAssertions(client, [
      assertion('six system roles', 'select count(*) = 6 from team_roles where is_system_role'),
    ]);
    expect(findings).toEqual([
      {
        kind: 'assertion-failed',
        category: 'assertions',
        object: 'six system roles',
        severity: 'error',
        have: false,
        want: true,
        message: 'assertion "six system roles" is false',
      },
    ]);
  });

  it.each([
    ['NULL', 'select null::boolean', 'returned NULL, expected true or false'],
    ['a number', 'select count(*) from team_roles', 'returned "6", not a boolean'],
    ['no row', 'select true from team_roles where false', 'returned 0 rows, expected exactly one'],
    ['many rows', 'select true from team_roles', 'returned 6 rows, expected exactly one'],
    ['two columns', 'select true, false', 'returned 2 columns, expected one boolean column'],
    [
      'a query error',
      'select count(*) = 5 from no_such_table',
      'could not run: relation "no_such_table" does not exist (SQLSTATE 42P01)',
    ],
    [
      'two statements',
      'select true; select true',
      'could not run: cannot insert multiple commands into a prepared statement',
    ],
  ])('reports %s as a finding, not a crash', async (_what, sql, message) => {
    const [finding, ...rest] = await runAssertions(client, [assertion('check', sql)]);
    expect(rest).toEqual([]);
    expect(finding).toMatchObject({
      kind: 'assertion-failed',
      category: 'assertions',
      severity: 'error',
    });
    expect(finding?.message).toContain(`assertion "check" ${message}`);
  });

  it('keeps running the next assertions after one fails', async () => {
    const findings = await runAssertions(client, [
      assertion('broken', 'select from'),
      assertion('false', 'select false'),
      assertion('true', 'select true'),
    ]);
    expect(findings.map((f) => f.object)).toEqual(['broken', 'false']);
  });

  it('can never write: writes fail, and nothing an assertion does survives it', async () => {
    const findings = await runAssertions(client, [
      assertion(
        'sneaky delete',
        'with d as (delete from team_roles returning 1) select count(*) = 0 from d',
      ),
      assertion('plain update', 'update team_roles set is_system_role = false returning true'),
      assertion(
        'sneaky function',
        "select count(*) >= 0 from (select set_config('search_path', 'nowhere', false)) s",
      ),
      assertion('read-write', 'set transaction read write'),
      assertion('commits', 'commit'),
      assertion('still read-only', "select current_setting('transaction_read_only') = 'on'"),
      assertion('still there', 'select count(*) = 6 from team_roles'),
    ]);
    expect(findings.map((f) => [f.object, f.message])).toEqual([
      [
        'sneaky delete',
        expect.stringMatching(
          /could not run: cannot execute \w+ in a read-only transaction \(SQLSTATE 25006\)$/,
        ),
      ],
      [
        'plain update',
        'assertion "plain update" could not run: cannot execute UPDATE in a read-only transaction (SQLSTATE 25006)',
      ],
      ['read-write', expect.stringMatching(/^assertion "read-write" could not run: /)],
      ['commits', expect.stringMatching(/^assertion "commits" ended or changed the transaction/)],
    ]);
    const { rows } = await client.query<{ n: number; path: string }>(
      "select count(*)::int as n, current_setting('search_path') as path from team_roles",
    );
    expect(rows[0]).toEqual({ n: 6, path: '"$user", public' });
    expect(client.getTransactionStatus()).toBe('I');
  });

  it('runs nothing for an empty list', async () => {
    expect(await runAssertions(client, [])).toEqual([]);
  });

  it('reports every false and broken one among many, in order, and leaves no transaction open', async () => {
    const many = Array.from({ length: 12 }, (_, i) =>
      i % 5 === 3
        ? assertion(`broken ${i}`, `select count(*) = ${i} from no_such_table_${i}`)
        : assertion(`count ${i}`, `select count(*) = ${i % 7} from team_roles`),
    );
    const findings = await runAssertions(client, many);
    expect(findings.map((f) => f.object)).toEqual(
      many.map((a) => a.name).filter((name) => name !== 'count 6'),
    );
    expect(
      findings.filter((f) => f.message.includes('could not run')).map((f) => f.object),
    ).toEqual(['broken 3', 'broken 8']);
    expect(client.getTransactionStatus()).toBe('I');
  });
});

// run sends the stored assertions before it knows whether it will use them (see runAssertionsAhead):
// all at once, and nothing after, so that what it sends next runs outside their transaction.
describe('runAssertionsAhead', () => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: db.url, pipeline: true });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
  });

  it('returns the findings when every assertion ran, false ones included', async () => {
    const findings = await runAssertionsAhead(client, [
      assertion('five system roles', 'select count(*) = 5 from team_roles where is_system_role'),
      assertion('six system roles', 'select count(*) = 6 from team_roles where is_system_role'),
    ]);
    expect(findings?.map((f) => [f.object, f.have])).toEqual([['six system roles', false]]);
    expect(client.getTransactionStatus()).toBe('I');
  });

  it('says nothing (undefined) when one could not run, and what follows runs after them, outside', async () => {
    const ahead = runAssertionsAhead(client, [
      assertion('broken', 'select count(*) = 1 from no_such_table'),
      assertion('five system roles', 'select count(*) = 5 from team_roles where is_system_role'),
    ]);
    // Sent right behind, before the answers are in: not part of their read-only transaction.
    const next = client.query('INSERT INTO team_roles VALUES ($1, false)', ['Ahead']);
    expect(await ahead).toBeUndefined();
    await next;
    expect(client.getTransactionStatus()).toBe('I');
    const rows = await db.query<{ n: string }>(
      "SELECT count(*) AS n FROM team_roles WHERE name = 'Ahead'",
    );
    expect(rows[0]?.n).toBe('1');
    await db.query("DELETE FROM team_roles WHERE name = 'Ahead'");
  });

  it('leaves to runAssertions what it cannot send at once: a statement, or a client that is not pipelined', async () => {
    expect(
      await runAssertionsAhead(client, [assertion('a statement', 'SHOW server_version')]),
    ).toBeUndefined();
    const plain = new pg.Client({ connectionString: db.url });
    await plain.connect();
    try {
      expect(await runAssertionsAhead(plain, [assertion('true', 'select true')])).toBeUndefined();
    } finally {
      await plain.end();
    }
    expect(await runAssertionsAhead(client, [])).toEqual([]);
  });
});
