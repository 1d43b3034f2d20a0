import pg from 'pg';
import { parseWhileReading } from '../../src/pipeline/verify-structure.js';
import type { ExpectedSource } from '../../src/schema/expected-file.js';
import { FINGERPRINT_STATEMENT } from '../../src/schema/fingerprint.js';
import type { ExpectedSchema } from '../../src/schema/types.js';
import { ensureVerifiedStateTable, lookupVerifiedState } from '../../src/schema/verified-state.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../helpers/embedded.mjs';
import { TEST_PASSWORD } from '../helpers/secrets.mjs';

/** A file whose hint of its schemas may be wrong, as a hand-written file's could be. */
function source(schema: ExpectedSchema, hint: string[] | undefined): ExpectedSource {
  let parsed = false;
  return {
    path: 'expected.json',
    sha256: '0'.repeat(64),
    size: 0,
    schema: () => {
      parsed = true;
      return schema;
    },
    get parsed() {
      return parsed;
    },
    schemasHint: () => hint,
    // A file with a hint is one as snapshot writes it (its head says it is exhaustive too).
    exhaustiveHint: () => hint !== undefined,
  };
}

describe('parsing the file while the catalog is read', () => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase('pf_parse');
    await db.query(
      'CREATE SCHEMA app; CREATE TABLE app.things (id int PRIMARY KEY, name text); CREATE INDEX things_name ON app.things (name); CREATE TABLE public.other (id int)',
    );
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });

  afterAll(async () => {
    await client.end();
    await db.drop();
  });

  it.each([
    ['a right hint', ['app']],
    ['a wrong hint (the catalog is read again)', ['public']],
    ['no hint', undefined],
  ])('reads the schemas the file names, with %s', async (_name, hint) => {
    const expected = source({ schemas: ['app'], tables: ['app.things'] }, hint);
    const { schema, snapshot, fingerprint } = await parseWhileReading(client, expected, undefined);
    expect(schema.schemas).toEqual(['app']);
    expect(Object.keys(snapshot.tables)).toEqual(['app.things']);
    expect(fingerprint).toMatch(/^\d+:\d+:\d+:/);
  });

  it('reads the same catalog with a helper connection (the digests split between the two)', async () => {
    const helper = new pg.Client({ connectionString: db.url });
    await helper.connect();
    try {
      const expected = (): ExpectedSource =>
        source({ schemas: ['app'], tables: ['app.things'] }, ['app']);
      const alone = await parseWhileReading(client, expected(), undefined);
      const split = await parseWhileReading(client, expected(), undefined, helper);
      expect(split.snapshot).toEqual(alone.snapshot);
      expect(Object.keys(split.snapshot.tables['app.things']?.indexes ?? {}).sort()).toEqual([
        'things_name',
        'things_pkey',
      ]);
      expect(Object.keys(split.snapshot.tables['app.things']?.constraints ?? {})).toEqual([
        'things_pkey',
      ]);
      expect(split.fingerprint).toBe(alone.fingerprint);
      expect(split.fingerprint).toMatch(/^\d+:\d+:\d+:/);
    } finally {
      await helper.end();
    }
  });

  it('reads the same catalog with a helper still connecting, or one that could not connect', async () => {
    const expected = (): ExpectedSource =>
      source({ schemas: ['app'], tables: ['app.things'] }, ['app']);
    const alone = await parseWhileReading(client, expected(), undefined);
    const helper = new pg.Client({ connectionString: db.url });
    const connecting = helper.connect().then(() => helper);
    try {
      const later = await parseWhileReading(client, expected(), undefined, connecting);
      expect(later.snapshot).toEqual(alone.snapshot);
      expect(later.fingerprint).toBe(alone.fingerprint);
    } finally {
      await helper.end();
    }
    // No helper after all: the session reads the helper's share too, behind its own.
    const none = await parseWhileReading(client, expected(), undefined, Promise.resolve(undefined));
    expect(none.snapshot).toEqual(alone.snapshot);
    expect(none.fingerprint).toBe(alone.fingerprint);
    const failed = await parseWhileReading(
      client,
      expected(),
      undefined,
      Promise.reject(new Error('could not connect')),
    );
    expect(failed.snapshot).toEqual(alone.snapshot);
  });

  it('records no fingerprint when the catalog changes while the helper reads', async () => {
    const helper = new pg.Client({ connectionString: db.url });
    const other = new pg.Client({ connectionString: db.url });
    await Promise.all([helper.connect(), other.connect()]);
    // The helper's read is sent after the first fingerprint: a change committed just before it
    // runs is seen by the read and by the last fingerprint, not by the first.
    const query = helper.query.bind(helper) as (...args: unknown[]) => Promise<unknown>;
    helper.query = (async (...args: unknown[]) => {
      await other.query('CREATE INDEX things_late ON app.things (id, name)');
      return query(...args);
    }) as typeof helper.query;
    try {
      const split = await parseWhileReading(
        client,
        source({ schemas: ['app'], tables: ['app.things'] }, ['app']),
        undefined,
        helper,
      );
      expect(split.snapshot.tables['app.things']?.indexes).toHaveProperty('things_late');
      expect(split.fingerprint).toBeUndefined();
    } finally {
      await other.query('DROP INDEX IF EXISTS app.things_late');
      await Promise.all([helper.end(), other.end()]);
    }
  });

  it('leaves the session out of its read-only transaction when the catalog read fails', async () => {
    const helper = new pg.Client({ connectionString: db.url });
    await helper.connect();
    // The main read (the statement that builds the catalog's JSON) fails on the server, inside
    // the repeatable-read transaction that pins the first fingerprint's snapshot.
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    client.query = ((text: unknown, ...rest: unknown[]) =>
      typeof text === 'string' && text.includes('json_build_object')
        ? query(`${text.split(';\n')[0]};\nSELECT 1 / 0`, ...rest)
        : query(text, ...rest)) as typeof client.query;
    try {
      await expect(
        parseWhileReading(client, source({ schemas: ['app'] }, ['app']), undefined, helper),
      ).rejects.toThrow(/division by zero/);
    } finally {
      client.query = query as typeof client.query;
      await helper.end();
    }
    // A failed transaction would refuse this; a read-only one would refuse the write.
    const { rows } = await client.query<{ level: string }>(
      "SELECT current_setting('transaction_isolation') AS level",
    );
    expect(rows).toEqual([{ level: 'read committed' }]);
    await client.query('CREATE TEMP TABLE written_after (id int)');
  });

  it("rejects with the session read's failure while the helper is still connecting", async () => {
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    client.query = ((text: unknown, ...rest: unknown[]) =>
      typeof text === 'string' && text.includes('json_build_object')
        ? query(`${text.split(';\n')[0]};\nSELECT 1 / 0`, ...rest)
        : query(text, ...rest)) as typeof client.query;
    // The session's statement fails long before the helper has connected (then: none).
    let connected: (helper: undefined) => void = () => undefined;
    const connecting = new Promise<undefined>((resolve) => {
      connected = resolve;
    });
    const late = setTimeout(() => connected(undefined), 300);
    try {
      await expect(
        parseWhileReading(client, source({ schemas: ['app'] }, ['app']), undefined, connecting),
      ).rejects.toThrow(/division by zero/);
    } finally {
      clearTimeout(late);
      client.query = query as typeof client.query;
    }
    const { rows } = await client.query<{ level: string }>(
      "SELECT current_setting('transaction_isolation') AS level",
    );
    expect(rows).toEqual([{ level: 'read committed' }]);
  });

  it('leaves the session clean when pinning the snapshot itself fails', async () => {
    const helper = new pg.Client({ connectionString: db.url });
    await helper.connect();
    // The transaction is open when its first statement fails: it must be rolled back.
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    client.query = ((text: unknown, ...rest: unknown[]) =>
      typeof text === 'string' && text.startsWith('BEGIN ISOLATION LEVEL REPEATABLE READ')
        ? query(text.replace(/SELECT .*$/, 'SELECT 1 / 0'), ...rest)
        : query(text, ...rest)) as typeof client.query;
    try {
      await expect(
        parseWhileReading(client, source({ schemas: ['app'] }, ['app']), undefined, helper),
      ).rejects.toThrow(/division by zero/);
    } finally {
      client.query = query as typeof client.query;
      await helper.end();
    }
    const { rows } = await client.query<{ level: string }>(
      "SELECT current_setting('transaction_isolation') AS level",
    );
    expect(rows).toEqual([{ level: 'read committed' }]);
  });

  it('reports a broken file as the parse error, not as the catalog query', async () => {
    const broken: ExpectedSource = {
      ...source({}, ['app']),
      schema: () => {
        throw new Error('expected.json: invalid JSON at line 1, column 3');
      },
    };
    await expect(parseWhileReading(client, broken, undefined)).rejects.toThrow(/invalid JSON/);
    // The early catalog query was awaited: the connection is free for the next statement.
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });
});

describe('the last fingerprint, on a server where nothing else commits', () => {
  // A server of this test's own (the shared one sees other tests' writes at any moment), without
  // autovacuum, whose analyses would commit too.
  let server: EmbeddedServer;
  let client: pg.Client;
  let other: pg.Client;
  let original: typeof client.query;
  let sent: string[];
  const expected = (): ExpectedSource =>
    source({ schemas: ['app'], tables: ['app.things'] }, ['app']);
  const fingerprints = (): number => sent.filter((text) => text === FINGERPRINT_STATEMENT).length;

  /** Runs `sql` on another connection just before the session checks its snapshot. */
  function commitBeforeTheCheck(sql: string): void {
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    client.query = (async (text: unknown, ...rest: unknown[]) => {
      if (typeof text === 'string' && text.startsWith('SELECT pg_catalog.pg_current_snapshot()'))
        await other.query(sql);
      return query(text, ...rest);
    }) as typeof client.query;
  }

  beforeAll(async () => {
    const major = process.env.TEST_PG_MAJOR || undefined;
    server = await startEmbeddedPostgres('pf-quiet', TEST_PASSWORD, {
      ...(major ? { major } : {}),
      settings: { autovacuum: 'off' },
    });
    client = new pg.Client({ connectionString: server.url });
    other = new pg.Client({ connectionString: server.url });
    await Promise.all([client.connect(), other.connect()]);
    await other.query('CREATE SCHEMA app; CREATE TABLE app.things (id int PRIMARY KEY)');
    const { rows } = await other.query<{ autovacuum: string }>('SHOW autovacuum');
    expect(rows).toEqual([{ autovacuum: 'off' }]);
    original = client.query;
  }, 120_000);

  beforeEach(() => {
    client.query = original;
    sent = [];
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    client.query = ((text: unknown, ...rest: unknown[]) => {
      if (typeof text === 'string') sent.push(text);
      return query(text, ...rest);
    }) as typeof client.query;
  });

  afterAll(async () => {
    await Promise.all([client?.end(), other?.end()]);
    await server?.stop();
  });

  it('is the first, not read again, when no transaction committed since the pinned snapshot', async () => {
    const { fingerprint } = await parseWhileReading(client, expected(), undefined);
    expect(fingerprints()).toBe(1);
    const { rows } = await other.query<{ fingerprint: string }>(FINGERPRINT_STATEMENT);
    expect(fingerprint).toBe(rows[0]?.fingerprint);
  });

  it('is read again, and agrees, when a write that changes no catalog committed meanwhile', async () => {
    commitBeforeTheCheck('INSERT INTO app.things VALUES (1)');
    const { fingerprint } = await parseWhileReading(client, expected(), undefined);
    expect(fingerprints()).toBe(2);
    const { rows } = await other.query<{ fingerprint: string }>(FINGERPRINT_STATEMENT);
    expect(fingerprint).toBe(rows[0]?.fingerprint);
  });

  it.each([
    ['nothing', undefined, 0],
    ['a write that changes no catalog', 'INSERT INTO app.things VALUES (2)', 1],
  ])(
    "after a lookup, is the lookup's when %s committed meanwhile (read again: %d)",
    async (_name, sql, reads) => {
      await ensureVerifiedStateTable(other);
      const lookup = await lookupVerifiedState(client, 'k');
      expect(lookup?.snapshot).toMatch(/^\d+:\d+:/);
      if (sql) commitBeforeTheCheck(sql);
      const { fingerprint } = await parseWhileReading(client, expected(), lookup);
      expect(fingerprints()).toBe(reads);
      expect(fingerprint).toBe(lookup?.fingerprint);
    },
  );

  it('is read again, and none is recorded, when a change of the catalog committed meanwhile', async () => {
    commitBeforeTheCheck('CREATE INDEX things_late ON app.things (id DESC)');
    const { fingerprint } = await parseWhileReading(client, expected(), undefined);
    expect(fingerprints()).toBe(2);
    expect(fingerprint).toBeUndefined();
  });
});
