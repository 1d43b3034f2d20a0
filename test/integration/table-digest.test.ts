import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ConfigError } from '../../src/errors.js';
import { countExpected, parseWhileReading } from '../../src/pipeline/verify-structure.js';
import type { Finding } from '../../src/report/findings.js';
import { compareSchema } from '../../src/schema/compare.js';
import {
  formatExpectedSchema,
  readExpectedSource,
  type ExpectedSource,
  type ReadSizes,
} from '../../src/schema/expected-file.js';
import type { DigestRow } from '../../src/schema/introspect-queries.js';
import {
  introspectSchema,
  snapshotToExpected,
  startDigestRead,
} from '../../src/schema/introspect.js';
import { expectedTableDigests } from '../../src/schema/table-digest.js';
import { COUNTED, findTables } from '../../src/schema/table-slices.js';
import { byCodePoint, schemasOf, type ExpectedSchema } from '../../src/schema/types.js';
import { connectAsSession, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { recordStatements } from '../helpers/statements.js';

// Every property a table's digest covers, and names and texts that JSON must escape: the server's
// canonical text and the one built from the file have to agree to the byte.
const SCHEMA = `
CREATE TYPE mood AS ENUM ('calm', 'busy');
CREATE TYPE "Odd ""mood"" \\ type" AS ENUM ('odd');
CREATE SEQUENCE invoice_no START 1000;
CREATE TABLE customers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email varchar(255) NOT NULL,
  mood mood NOT NULL DEFAULT 'calm',
  "we""ird\\name" text DEFAULT E'line one\\nline\\ttwo "quoted" \\\\ back',
  "ünïcødé ✓" numeric(12, 2) DEFAULT 0,
  lower_email text GENERATED ALWAYS AS (lower(email)) STORED,
  tags text[] NOT NULL DEFAULT '{}',
  oddity "Odd ""mood"" \\ type"[],
  created_at timestamp(3) with time zone NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX customers_email ON customers (email);
CREATE INDEX customers_lower ON customers (lower(email)) WHERE mood = 'busy';
CREATE INDEX customers_desc ON customers (created_at DESC NULLS LAST, id);
CREATE TABLE "Invoices ✓" (
  id bigint PRIMARY KEY DEFAULT nextval('invoice_no'),
  customer_id bigint NOT NULL,
  total numeric(12, 2) NOT NULL CONSTRAINT "total ""positive""" CHECK (total >= 0),
  note text CHECK (note <> E'\\x01'),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT invoices_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
    ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  UNIQUE (customer_id, id) INCLUDE (total)
);
ALTER TABLE "Invoices ✓" ADD CONSTRAINT later CHECK (total < 1e9) NOT VALID;
CREATE TABLE circles (c circle, EXCLUDE USING gist (c WITH &&));
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE TRIGGER touch BEFORE UPDATE ON "Invoices ✓" FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TRIGGER touch_off BEFORE INSERT ON "Invoices ✓" FOR EACH ROW EXECUTE FUNCTION touch();
ALTER TABLE "Invoices ✓" DISABLE TRIGGER touch_off;
CREATE TRIGGER touch_replica BEFORE DELETE ON "Invoices ✓" FOR EACH ROW EXECUTE FUNCTION touch();
ALTER TABLE "Invoices ✓" ENABLE REPLICA TRIGGER touch_replica;
CREATE TRIGGER touch_always BEFORE TRUNCATE ON "Invoices ✓" FOR EACH STATEMENT EXECUTE FUNCTION touch();
ALTER TABLE "Invoices ✓" ENABLE ALWAYS TRIGGER touch_always;
ALTER TABLE customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE customers FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON customers AS RESTRICTIVE FOR UPDATE TO pg_read_all_data, pg_monitor
  USING (mood = 'calm') WITH CHECK (email <> '');
CREATE POLICY everyone ON customers FOR SELECT USING (true);
CREATE TABLE events (at date NOT NULL, kind text) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE empty ();
CREATE VIEW big_invoices AS SELECT id, total FROM "Invoices ✓" WHERE total > 1000;
CREATE MATERIALIZED VIEW totals AS SELECT customer_id, sum(total) AS total FROM "Invoices ✓" GROUP BY 1;
CREATE UNIQUE INDEX totals_customer ON totals (customer_id);
CREATE SCHEMA billing;
CREATE TABLE billing.rates (code text PRIMARY KEY, rate numeric NOT NULL DEFAULT 1);
`;

/** A schema change and the table whose digest it moves. */
const DRIFTS: readonly (readonly [string, string, string])[] = [
  ['a column added', 'ALTER TABLE customers ADD COLUMN phone text', 'public.customers'],
  [
    'a type changed',
    'ALTER TABLE billing.rates ALTER COLUMN code TYPE varchar(20)',
    'billing.rates',
  ],
  [
    'a default dropped',
    'ALTER TABLE billing.rates ALTER COLUMN rate DROP DEFAULT',
    'billing.rates',
  ],
  ['NOT NULL set', 'ALTER TABLE events ALTER COLUMN kind SET NOT NULL', 'public.events'],
  [
    'an index renamed',
    'ALTER INDEX customers_desc RENAME TO customers_by_date',
    'public.customers',
  ],
  ['a trigger enabled', 'ALTER TABLE "Invoices ✓" ENABLE TRIGGER touch_off', 'public.Invoices ✓'],
  [
    'a constraint validated',
    'ALTER TABLE "Invoices ✓" VALIDATE CONSTRAINT later',
    'public.Invoices ✓',
  ],
  ['a policy changed', 'ALTER POLICY everyone ON customers USING (id > 0)', 'public.customers'],
  [
    'row-level security off',
    'ALTER TABLE customers NO FORCE ROW LEVEL SECURITY',
    'public.customers',
  ],
  ['a partition detached', 'ALTER TABLE events DETACH PARTITION events_2026', 'public.events_2026'],
  ['a table added', 'CREATE TABLE extra (id int)', 'public.extra'],
];

const connect = (db: TestDatabase): Promise<pg.Client> => connectAsSession(db.url);

/**
 * The server's rows of the tables of `schemas` (`only` those named; on `helper` too when given,
 * the session's share the names before `splitAt` when given): all of them, and by share.
 */
async function serverRows(
  client: pg.Client,
  schemas: readonly string[],
  helper?: pg.Client,
  only?: readonly string[],
  splitAt?: string,
): Promise<{ rows: DigestRow[]; shares: DigestRow[][] }> {
  const read = await startDigestRead(client, schemas, undefined, helper, only, true, splitAt);
  const shares = await Promise.all(read.shares);
  const { plan } = await read.finish((digests: DigestRow[]) => ({ read: [], digests }));
  return { rows: plan.digests, shares };
}

/**
 * That the digests split at `splitAt` are `alone`'s, the session's share the tables before the
 * name (in the file's order), the helper's the rest.
 */
function expectSplitAt(
  splitAt: string,
  alone: ReadonlyMap<string, string>,
  rows: readonly DigestRow[],
  shares: readonly DigestRow[][],
): void {
  const names = [...alone.keys()].sort(byCodePoint);
  expect(new Map(rows.map((r) => [`${r.schema}.${r.name}`, r.digest]))).toEqual(alone);
  const [session, theirs] = shares.map((share) =>
    share.map((r) => `${r.schema}.${r.name}`).sort(byCodePoint),
  );
  expect([splitAt, session, theirs]).toEqual([
    splitAt,
    names.filter((name) => name < splitAt),
    names.filter((name) => name >= splitAt),
  ]);
}

/** The server's digests of the tables of `schemas` (see serverRows). */
async function serverDigests(
  client: pg.Client,
  schemas: readonly string[],
  helper?: pg.Client,
  only?: readonly string[],
  splitAt?: string,
): Promise<Map<string, string>> {
  const { rows } = await serverRows(client, schemas, helper, only, splitAt);
  const tables = new Map<string, string>();
  for (const { schema, name, digest } of rows) {
    expect(tables.has(`${schema}.${name}`)).toBe(false);
    tables.set(`${schema}.${name}`, digest);
  }
  return tables;
}

/** A file already parsed (as run parses it before migrating). */
function parsedSource(schema: ExpectedSchema): ExpectedSource {
  return {
    path: 'expected.json',
    sha256: '0'.repeat(64),
    size: 0,
    schema: () => schema,
    parsed: true,
    schemasHint: () => undefined,
    exhaustiveHint: () => false,
  };
}

const directory = mkdtempSync(join(tmpdir(), 'pf-digest-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let files = 0;

/** How the files are read: held whole, or through a window as a large file is (see below). */
let sizes: ReadSizes = {};

/** The file as snapshot writes it, read as verify reads it (its tables found in its bytes). */
async function fileSource(schema: ExpectedSchema): Promise<ExpectedSource> {
  const path = join(directory, `expected-${++files}.json`);
  writeFileSync(path, formatExpectedSchema(schema));
  return readExpectedSource(path, undefined, sizes);
}

/**
 * `file`, its reads of its tables written down in `events`: each stretch the server's texts guide
 * (`stretch <tables> <taken>`), and each scan (`scanned`).
 */
function watchReads(file: ExpectedSource, events: string[]): ExpectedSource {
  const guideSlices = file.guideSlices?.bind(file);
  const tableSlices = file.tableSlices?.bind(file);
  return {
    ...file,
    guideSlices: () => {
      const walk = guideSlices?.();
      return (
        walk && {
          next: (guide) => {
            const taken = walk.next(guide);
            events.push(`stretch ${guide.length} ${String(taken)}`);
            return taken;
          },
          end: () => walk.end(),
          close: () => walk.close(),
        }
      );
    },
    tableSlices: () => {
      events.push('scanned');
      return tableSlices?.();
    },
  };
}

/**
 * What compare finds against the whole catalog, and against what the digests leave to read: the
 * same whether the file was parsed before (run) or is read from its bytes (verify).
 */
async function bothWays(
  client: pg.Client,
  expected: ExpectedSchema,
  helper?: pg.Client,
): Promise<{ whole: Finding[]; byDigest: Finding[]; vouched: number; read: string[] }> {
  const options = { strict: false };
  const whole = compareSchema(
    expected,
    await introspectSchema(client, schemasOf(expected)),
    options,
  );
  const results = [];
  const file = await fileSource(expected);
  for (const source of [parsedSource(expected), file]) {
    const { compared, snapshot, vouched, checkedBy } = await parseWhileReading(
      client,
      source,
      undefined,
      helper,
    );
    const byDigest = compareSchema(compared, snapshot, options);
    results.push({
      whole,
      byDigest,
      vouched,
      read: Object.keys(snapshot.tables).sort(),
      checkedBy,
    });
  }
  // The counts of the report too: from the parsed file, or from the bytes of the vouched tables.
  expect(results[1]).toEqual(results[0]);
  expect(results[0]?.checkedBy).toEqual(countExpected(expected));
  // An exhaustive file with its tables by name, as snapshot writes it, is never parsed whole:
  // only its rest is.
  const bySlices = expected.exhaustive === true && !Array.isArray(expected.tables);
  expect(file.parsed).toBe(!bySlices);
  return results[0] as (typeof results)[number];
}

// Every test twice: the file held whole (as a file up to 1 MiB is), and read through a window of
// 4 KiB (as a larger one is), cut in many places.
describe.each<[string, ReadSizes]>([
  ['held whole', {}],
  ['read through a window', { wholeUpTo: 0, window: 4096 }],
])('table digests, the file %s', (_how, readSizes) => {
  let db: TestDatabase;
  let client: pg.Client;
  let expected: ExpectedSchema;

  beforeAll(async () => {
    sizes = readSizes;
    db = await createTestDatabase('pf_digest');
    await db.query(SCHEMA);
    client = await connect(db);
    expected = snapshotToExpected(await introspectSchema(client, ['public', 'billing']));
  });

  afterAll(async () => {
    await client.end();
    await db.drop();
  });

  it('are equal on the server, from the snapshot and from the file, for every table and every property', async () => {
    const fromSnapshot = expectedTableDigests(expected);
    const bytes = Buffer.from(formatExpectedSchema(expected));
    const slices = findTables(bytes)?.slices ?? [];
    const fromFile = new Map(slices.map(({ name, digest }) => [name, digest]));
    const fromServer = await serverDigests(client, ['public', 'billing']);
    expect([...fromServer.keys()].sort()).toEqual(Object.keys(expected.tables ?? {}).sort());
    expect(new Map([...fromSnapshot].sort())).toEqual(new Map([...fromServer].sort()));
    expect(new Map([...fromFile].sort())).toEqual(new Map([...fromServer].sort()));
    // Each text's length is its slice's, and its collections' counts are the file's.
    const { rows } = await serverRows(client, ['public', 'billing']);
    const server = rows.map(({ schema, name, length, counts }) => ({
      name: `${schema}.${name}`,
      length,
      counts,
    }));
    const file = slices.map(({ name, start, end, counts }) => ({
      name,
      length: end - start,
      counts,
    }));
    const byName = (a: { name: string }, b: { name: string }): number =>
      byCodePoint(a.name, b.name);
    expect(server.sort(byName)).toEqual(file.sort(byName));
    // Every collection has entries somewhere, so that each count is checked.
    for (const [k, collection] of COUNTED.entries())
      expect([collection, file.some(({ counts }) => (counts[k] ?? 0) > 0)]).toEqual([
        collection,
        true,
      ]);
  });

  it('are the same split over a helper connection, by OID or by name', async () => {
    const helper = await connect(db);
    try {
      const alone = await serverDigests(client, ['public', 'billing']);
      expect(await serverDigests(client, ['public', 'billing'], helper)).toEqual(alone);
      // By name: the session's share the tables before the name, the helper's the rest, each a
      // stretch of the file (its names in the file's order), whatever the name.
      const names = [...alone.keys()].sort(byCodePoint);
      for (const splitAt of [
        '',
        'billing.rates',
        'public.e',
        'public.events',
        names[3] ?? '',
        '~',
      ]) {
        const { rows, shares } = await serverRows(
          client,
          ['public', 'billing'],
          helper,
          undefined,
          splitAt,
        );
        expectSplitAt(splitAt, alone, rows, shares);
      }
    } finally {
      await helper.end();
    }
  });

  it("are split by name on pg_class's index of names for one schema, the same shares exactly", async () => {
    // A name of 63 bytes (the longest Postgres keeps), and split names around it: one longer
    // than a name can be is not bounded on relname (a cast would cut it to the table's name).
    const longest = `t${'x'.repeat(62)}`;
    await db.query(`CREATE SCHEMA solo;
      CREATE TABLE solo.a (id int PRIMARY KEY); CREATE TABLE solo."${longest}" (id int);
      CREATE TABLE solo."é" (id int); CREATE TABLE solo.zz (id int)`);
    const helper = await connect(db);
    const { sent } = recordStatements(helper);
    try {
      const alone = await serverDigests(client, ['solo']);
      expect(alone.size).toBe(4);
      for (const [splitAt, bounded] of [
        ['solo.', true],
        ['solo.a', true],
        ['solo.b', true],
        [`solo.${longest}`, true],
        [`solo.${longest}z`, false],
        ['solo.é', true],
        ['solo.zzz', true],
        ['public.a', false],
        ['~', false],
      ] as const) {
        sent.length = 0;
        const { rows, shares } = await serverRows(client, ['solo'], helper, undefined, splitAt);
        expectSplitAt(splitAt, alone, rows, shares);
        expect([splitAt, sent.some((sql) => sql.includes('AND c.relname >= '))]).toEqual([
          splitAt,
          bounded,
        ]);
      }
    } finally {
      await helper.end();
      await db.query('DROP SCHEMA solo CASCADE');
    }
  });

  it('come back with every name as the catalog has it, whatever its characters', async () => {
    const odd = ['a "quoted", \\ b', 'line\nbreak', '","', 'x y', '😀 ë', 'Z', 'ok_name'];
    // A schema JSON escapes something of (its rows' names are read as JSON), and one it does not.
    for (const schema of ['odd ","\\ schema', 'odd schema ë']) await oddNames(schema, odd);
  });

  /** Tables named `odd` in a new `schema`: the digests' rows name each as the catalog does. */
  async function oddNames(schema: string, odd: readonly string[]): Promise<void> {
    await db.query(
      [
        `CREATE SCHEMA ${client.escapeIdentifier(schema)}`,
        ...odd.map(
          (name, i) =>
            `CREATE TABLE ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)} (c${i} int)`,
        ),
      ].join(';\n'),
    );
    try {
      const { rows } = await serverRows(client, [schema]);
      const { rows: catalog } = await client.query<{ relname: string; oid: string }>(
        `SELECT c.relname, c.oid::text AS oid FROM pg_class c
         WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r'`,
        [client.escapeIdentifier(schema)],
      );
      expect(rows.map((r) => [r.schema, r.name, String(r.oid)]).sort()).toEqual(
        catalog.map((c) => [schema, c.relname, c.oid]).sort(),
      );
      expect(rows.map((r) => r.name).sort()).toEqual([...odd].sort());
      for (const row of rows) {
        expect(row.digest).toMatch(/^[0-9a-f]{64}$/);
        expect(row.counts).toEqual([1, 0, 0, 0, 0]);
        expect(row.invalid).toBe(false);
        expect(row.length).toBeGreaterThan(100);
      }
    } finally {
      await db.query(`DROP SCHEMA ${client.escapeIdentifier(schema)} CASCADE`);
    }
  }

  it('vouch for every table of an unchanged schema: nothing is read, nothing found', async () => {
    const result = await bothWays(client, expected);
    expect(result.whole).toEqual([]);
    expect(result.byDigest).toEqual([]);
    expect(result.read).toEqual([]);
    expect(result.vouched).toBe(Object.keys(expected.tables ?? {}).length);
  });

  it('with a helper, parse the rest of the file once, without the tables a drift changed', async () => {
    const helper = await connect(db);
    try {
      for (const drift of [false, true]) {
        const file = await fileSource(expected);
        const calls: string[][] = [];
        const schemaWithout = file.schemaWithout?.bind(file);
        const watched: ExpectedSource = {
          ...file,
          schemaWithout: (vouched) => {
            calls.push(vouched.map((slice) => slice.name));
            return schemaWithout?.(vouched);
          },
        };
        const tables = Object.keys(expected.tables ?? {}).sort(byCodePoint);
        if (drift) await client.query('ALTER TABLE billing.rates ADD COLUMN extra int');
        try {
          const { compared, snapshot } = await parseWhileReading(
            client,
            watched,
            undefined,
            helper,
          );
          const whole = compareSchema(
            expected,
            await introspectSchema(client, schemasOf(expected)),
            { strict: false },
          );
          expect(compareSchema(compared, snapshot, { strict: false })).toEqual(whole);
          expect(whole.length > 0).toBe(drift);
          // Parsed once, without the tables the digests vouch for: after a drift, all but the
          // one that is read and compared (billing.rates).
          expect(calls).toEqual([
            drift ? tables.filter((name) => name !== 'billing.rates') : tables,
          ]);
        } finally {
          if (drift) await client.query('ALTER TABLE billing.rates DROP COLUMN extra');
        }
      }
    } finally {
      await helper.end();
    }
  });

  it("with a helper, take each stretch of the file as its share's answer comes in, without a scan", async () => {
    const helper = await connect(db);
    // Each digests statement's answer, and each step of the file's read, in the order they happen.
    const events: string[] = [];
    const watch = (connection: pg.Client, who: string): (() => void) => {
      const query = connection.query.bind(connection) as (text: unknown) => Promise<unknown>;
      const watched = (text: unknown): Promise<unknown> => {
        const sent = query(text);
        if (typeof text === 'string' && text.includes(') AS digests'))
          void sent.then(
            () => events.push(`${who} answered`),
            () => undefined,
          );
        return sent;
      };
      Object.assign(connection, { query: watched });
      return () => Reflect.deleteProperty(connection, 'query');
    };
    const unwatch = [watch(client, 'session'), watch(helper, 'helper')];
    try {
      for (const second of [helper, undefined]) {
        events.length = 0;
        const watched = watchReads(await fileSource(expected), events);
        const { vouched } = await parseWhileReading(client, watched, undefined, second);
        const tables = Object.keys(expected.tables ?? {}).length;
        expect(vouched).toBe(tables);
        const stretches = events.filter((event) => event.startsWith('stretch'));
        if (second) {
          // The session's stretch (the tables before the one after 30/64 of the file), once its
          // answer is in; the helper's, once its own is in.
          expect(events).not.toContain('scanned');
          expect(stretches).toHaveLength(2);
          const [mine, theirs] = stretches.map((event) => events.indexOf(event));
          expect(mine).toBeGreaterThan(events.indexOf('session answered'));
          expect(theirs).toBeGreaterThan(events.indexOf('helper answered'));
          const sizes = stretches.map((event) => Number(event.split(' ')[1]));
          expect(sizes).not.toContain(0);
          expect(sizes.reduce((a, b) => a + b)).toBe(tables);
        } else {
          // Alone, the file is scanned while the server reads (it has the other core).
          expect(events).toEqual(['scanned', 'session answered']);
        }
      }
    } finally {
      for (const undo of unwatch) undo();
      await helper.end();
    }
  });

  it('scan the file at once when the first stretch is not what the server printed', async () => {
    const helper = await connect(db);
    try {
      await client.query('ALTER TABLE billing.rates ADD COLUMN extra int');
      try {
        const events: string[] = [];
        const watched = watchReads(await fileSource(expected), events);
        const { compared, snapshot, vouched } = await parseWhileReading(
          client,
          watched,
          undefined,
          helper,
        );
        // billing.rates sorts first: its stretch is refused, and the file is scanned at once,
        // without waiting for the helper's share.
        expect(events).toEqual([expect.stringMatching(/^stretch \d+ false$/), 'scanned']);
        expect(vouched).toBe(Object.keys(expected.tables ?? {}).length - 1);
        const found = compareSchema(compared, snapshot, { strict: false });
        expect(found.map((f) => `${f.kind} ${f.object}`)).toEqual(['extra billing.rates.extra']);
      } finally {
        await client.query('ALTER TABLE billing.rates DROP COLUMN extra');
      }
    } finally {
      await helper.end();
    }
  });

  it('refuse a file written after its hash (read through a window), with or without a helper', async () => {
    const helper = await connect(db);
    try {
      const { path } = await fileSource(expected);
      for (const second of [undefined, helper]) {
        const source = await readExpectedSource(path, undefined, sizes);
        await source.hash?.();
        // The same length, another file: a large one is read again for its tables, and refused.
        writeFileSync(path, formatExpectedSchema(expected).replace('"public.', '"public_'));
        const error: unknown = await parseWhileReading(client, source, undefined, second).then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
        if (sizes.window === undefined) {
          // Held whole: the bytes hashed are the bytes verified; the file on disk is not read.
          expect(error).toBeUndefined();
        } else {
          expect(error).toBeInstanceOf(ConfigError);
          expect(String((error as Error).message)).toMatch(/changed while it was being read/);
        }
        // The session still answers after the refusal.
        expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        writeFileSync(path, formatExpectedSchema(expected));
      }
    } finally {
      await helper.end();
    }
  });

  it('with a helper, report what the rest of the file gets wrong, as without one', async () => {
    const broken = { ...expected, functions: { 'public.f()': { kind: 'nope' } } } as never;
    const helper = await connect(db);
    try {
      const errors = [];
      const { path } = await fileSource(broken);
      for (const second of [undefined, helper]) {
        errors.push(
          await parseWhileReading(
            client,
            await readExpectedSource(path, undefined, sizes),
            undefined,
            second,
          ).then(
            () => undefined,
            (error: unknown) => error,
          ),
        );
      }
      expect(errors[0]).toBeInstanceOf(ConfigError);
      expect(errors[1]).toEqual(errors[0]);
    } finally {
      await helper.end();
    }
  });

  it.each(DRIFTS)(
    'after %s, read that table and find what a whole comparison finds',
    async (_name, sql, table) => {
      const drifted = await createTestDatabase('pf_digest');
      try {
        await drifted.query(SCHEMA);
        const session = await connect(drifted);
        const helper = await connect(drifted);
        try {
          const before = snapshotToExpected(await introspectSchema(session, ['public', 'billing']));
          await drifted.query(sql);
          for (const second of [undefined, helper]) {
            const result = await bothWays(session, before, second);
            expect(result.whole.length).toBeGreaterThan(0);
            expect(result.byDigest).toEqual(result.whole);
            expect(result.read).toContain(table);
            // Only what changed is read (a detached partition changes its parent's bound too).
            expect(result.read.length).toBeLessThanOrEqual(2);
          }
        } finally {
          await Promise.all([session.end(), helper.end()]);
        }
      } finally {
        await drifted.drop();
      }
    },
  );

  it('find what a whole comparison finds in a file with a second "tables" key (the last counts)', async () => {
    const text = formatExpectedSchema(expected).replace(
      '\n  "functions": ',
      '\n  "tables": { "billing.rates": { "kind": "table" } },\n  "functions": ',
    );
    const path = join(directory, `expected-${++files}.json`);
    writeFileSync(path, text);
    const meant = JSON.parse(text) as ExpectedSchema;
    const options = { strict: false };
    const whole = compareSchema(meant, await introspectSchema(client, schemasOf(meant)), options);
    expect(whole.length).toBeGreaterThan(0);
    const { compared, snapshot, vouched } = await parseWhileReading(
      client,
      await readExpectedSource(path, undefined, sizes),
      undefined,
    );
    expect(vouched).toBe(0);
    expect(compareSchema(compared, snapshot, options)).toEqual(whole);
  });

  it('report a missing table that the file indents deeper than the others (JSON does not care)', async () => {
    const gone = JSON.stringify((expected.tables as Record<string, object>)['billing.rates']);
    const text = formatExpectedSchema(expected).replace(
      '\n    "public.customers": {',
      `\n      "public.gone": ${gone},\n    "public.customers": {`,
    );
    const path = join(directory, `expected-${++files}.json`);
    writeFileSync(path, text);
    const meant = JSON.parse(text) as ExpectedSchema;
    const options = { strict: false };
    const whole = compareSchema(meant, await introspectSchema(client, schemasOf(meant)), options);
    expect(whole.map((f) => `${f.kind} ${f.object}`)).toEqual(['missing public.gone']);
    const helper = await connect(db);
    try {
      for (const by of [undefined, helper]) {
        const { compared, snapshot } = await parseWhileReading(
          client,
          await readExpectedSource(path, undefined, sizes),
          undefined,
          by,
        );
        expect(compareSchema(compared, snapshot, options)).toEqual(whole);
      }
    } finally {
      await helper.end();
    }
  });

  it('read a table the file describes partly, and one it lists by name only', async () => {
    const tables = { ...(expected.tables as Record<string, object>) };
    tables['public.customers'] = { columns: ['id', 'email'] };
    tables['billing.rates'] = { kind: 'table' };
    const partial = { ...expected, tables };
    const result = await bothWays(client, partial);
    expect(result.read).toEqual(['billing.rates', 'public.customers']);
    expect(result.byDigest).toEqual(result.whole);
    const names = { ...expected, tables: Object.keys(tables) };
    const listed = await bothWays(client, names);
    expect(result.vouched).toBe(Object.keys(tables).length - 2);
    expect(listed.vouched).toBe(0);
    expect(listed.byDigest).toEqual(listed.whole);
  });

  it('find a change to a default that holds a control character and no quote', async () => {
    await client.query(`CREATE TABLE billing.tabbed (memo text DEFAULT E'tab\\there')`);
    try {
      const withTab = snapshotToExpected(await introspectSchema(client, ['public', 'billing']));
      expect((withTab.tables as Record<string, object>)['billing.tabbed']).toMatchObject({
        columns: { memo: { default: "'tab\there'::text" } },
      });
      const result = await bothWays(client, withTab);
      expect(result.whole).toEqual([]);
      expect(result.byDigest).toEqual([]);
      // Changed, it is found as changed.
      await client.query(`ALTER TABLE billing.tabbed ALTER COLUMN memo SET DEFAULT E'tab\\there!'`);
      const changed = await bothWays(client, withTab);
      expect(changed.read).toEqual(['billing.tabbed']);
      expect(changed.whole.length).toBe(1);
      expect(changed.byDigest).toEqual(changed.whole);
    } finally {
      await client.query('DROP TABLE billing.tabbed');
    }
  });

  it('never take a key with INCLUDE columns, or one that treats nulls as equal, for a plain one', async () => {
    const { rows } = await client.query<{ v: string }>('SHOW server_version_num');
    const nullsEqual = Number(rows[0]?.v) >= 150000;
    await client.query(`CREATE TABLE billing.keyed (a int, b int,
      CONSTRAINT keyed_a UNIQUE${nullsEqual ? ' NULLS NOT DISTINCT' : ''} (a),
      CONSTRAINT keyed_b UNIQUE (b) INCLUDE (a))`);
    try {
      const actual = snapshotToExpected(await introspectSchema(client, ['public', 'billing']));
      // The file as if both were plain keys.
      const tables = structuredClone(actual.tables) as Record<
        string,
        { constraints: Record<string, { definition: string }> }
      >;
      const keyed = tables['billing.keyed']?.constraints ?? {};
      expect(keyed['keyed_b']?.definition).toBe('UNIQUE (b) INCLUDE (a)');
      for (const [name, column] of [
        ['keyed_a', 'a'],
        ['keyed_b', 'b'],
      ] as const)
        Object.assign(keyed[name] ?? {}, { definition: `UNIQUE (${column})` });
      const result = await bothWays(client, { ...actual, tables });
      expect(result.read).toEqual(['billing.keyed']);
      expect(result.whole.length).toBe(nullsEqual ? 2 : 1);
      expect(result.byDigest).toEqual(result.whole);
    } finally {
      await client.query('DROP TABLE billing.keyed');
    }
  });

  it('are read only for the tables named, when asked', async () => {
    const all = await serverDigests(client, ['public', 'billing']);
    const named = await serverDigests(client, ['public', 'billing'], undefined, [
      'public.customers',
      'public.Invoices ✓',
      'public.nowhere',
    ]);
    expect([...named.keys()].sort()).toEqual(['public.Invoices ✓', 'public.customers']);
    expect(named.get('public.customers')).toEqual(all.get('public.customers'));
    expect((await serverDigests(client, ['public'], undefined, [])).size).toBe(0);
  });

  it('read, for a file that is not exhaustive, only the tables it lists (where they differ)', async () => {
    const all = expected.tables as Record<string, object>;
    const partial: ExpectedSchema = {
      schemas: expected.schemas ?? [],
      tables: {
        'public.customers': all['public.customers'] ?? {},
        'billing.rates': { kind: 'table' },
      },
    };
    const result = await bothWays(client, partial);
    expect(result.read).toEqual(['billing.rates']);
    expect(result.vouched).toBe(1);
    expect(result.byDigest).toEqual(result.whole);
  });

  it('report a table the file lists but the database lacks, and one the database adds', async () => {
    const tables = { ...(expected.tables as Record<string, object>) };
    tables['public.gone'] = (expected.tables as Record<string, object>)['billing.rates'] ?? {};
    const result = await bothWays(client, { ...expected, tables });
    expect(result.byDigest.map((f) => `${f.kind} ${f.object}`)).toEqual(['missing public.gone']);
    expect(result.byDigest).toEqual(result.whole);
  });

  it('always read a table with an INVALID index, so that compare reports it', async () => {
    await db.query("CREATE TABLE dup (v text); INSERT INTO dup VALUES ('a'), ('a')");
    try {
      await expect(db.query('CREATE UNIQUE INDEX CONCURRENTLY dup_v ON dup (v)')).rejects.toThrow(
        /could not create unique index/,
      );
      // The file records the index as it is (INVALID): equal digests, still read and reported.
      // Named or not: a table with an INVALID index always has its digests read.
      const named = await serverDigests(client, ['public'], undefined, ['public.customers']);
      expect([...named.keys()].sort()).toEqual(['public.customers', 'public.dup']);
      const withDup = snapshotToExpected(await introspectSchema(client, ['public', 'billing']));
      const digests = await serverDigests(client, ['public']);
      expect(expectedTableDigests(withDup).get('public.dup')).toBe(digests.get('public.dup'));
      // Exhaustive, partial without the table, and without tables at all: always reported.
      const files: [ExpectedSchema, string[]][] = [
        [withDup, ['public.dup']],
        [{ tables: ['public.customers'] }, ['public.customers', 'public.dup']],
        [{ functions: {} }, ['public.dup']],
      ];
      for (const [file, read] of files) {
        const result = await bothWays(client, file);
        expect(result.read).toEqual(read);
        expect(result.byDigest.map((f) => `${f.kind} ${f.object}`)).toEqual([
          'invalid public.dup.dup_v',
        ]);
        expect(result.byDigest).toEqual(result.whole);
      }
    } finally {
      await db.query('DROP TABLE dup');
    }
  });
});
