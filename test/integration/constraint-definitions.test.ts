import pg from 'pg';
import { builtByQuery } from '../helpers/built-definitions.js';
import { introspectSchema } from '../../src/schema/introspect.js';
import { connectWithVersion, createTestDatabase, type TestDatabase } from '../helpers/db.js';

/*
 * The usual primary keys, unique constraints and foreign keys have their definition built by the
 * catalog query instead of pg_get_constraintdef (introspect-queries.ts). Every constraint here
 * must read exactly as pg_get_constraintdef prints it with the search path the read sets, and
 * the plain ones must really take the fast path (or the speed-up is silently lost).
 */

const SCHEMA = `
CREATE SCHEMA "Odd Schema";
CREATE SCHEMA elsewhere;
CREATE TABLE elsewhere.remote (id integer PRIMARY KEY);
CREATE TABLE "pg_settings" (id integer PRIMARY KEY);
CREATE TABLE pg_own (id integer PRIMARY KEY);
CREATE TABLE "Odd Schema"."Mixed Case" (
  id bigint PRIMARY KEY,
  "order" integer NOT NULL,
  "Name" text NOT NULL,
  "select" varchar(20) UNIQUE,
  UNIQUE ("order", "Name") DEFERRABLE INITIALLY DEFERRED
);
CREATE TABLE parents (
  a integer,
  b integer,
  c integer,
  d integer,
  e integer,
  gone integer,
  code text UNIQUE,
  tag text UNIQUE DEFERRABLE,
  PRIMARY KEY (a, b),
  UNIQUE (a, b, c, d),
  UNIQUE (a, b, c, d, e),
  UNIQUE (c) INCLUDE (d)
);
ALTER TABLE parents DROP COLUMN gone;
CREATE TABLE children (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  a integer,
  b integer,
  parent_code text REFERENCES parents (code) ON UPDATE CASCADE ON DELETE SET NULL,
  self_id integer REFERENCES children (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  mixed_id bigint REFERENCES "Odd Schema"."Mixed Case" (id) ON DELETE RESTRICT,
  remote_id integer REFERENCES elsewhere.remote (id) ON UPDATE RESTRICT ON DELETE SET DEFAULT,
  shadowed_id integer REFERENCES public."pg_settings" (id) MATCH FULL,
  own_id integer REFERENCES public.pg_own (id),
  total integer CHECK (total >= 0),
  FOREIGN KEY (a, b) REFERENCES parents (a, b) MATCH FULL ON UPDATE SET NULL ON DELETE NO ACTION
);
ALTER TABLE children ADD CONSTRAINT children_late FOREIGN KEY (b, a) REFERENCES parents (a, b) NOT VALID;
CREATE TABLE "Odd Schema".back (
  "Parent A" integer,
  "Parent B" integer,
  FOREIGN KEY ("Parent A", "Parent B") REFERENCES parents (a, b)
);
CREATE TABLE events (id bigint NOT NULL, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE event_refs (id bigint, at date, FOREIGN KEY (id, at) REFERENCES events (id, at));
CREATE TABLE circles (c circle, EXCLUDE USING gist (c WITH &&));
`;

/** Constraints whose definition the catalog query builds itself. */
const PLAIN = [
  'Odd Schema.Mixed Case_pkey',
  'Odd Schema.Mixed Case_select_key',
  'Odd Schema.Mixed Case_order_Name_key',
  'Odd Schema.back_Parent A_Parent B_fkey',
  'public.pg_settings_pkey',
  'public.pg_own_pkey',
  'public.parents_pkey',
  'public.parents_code_key',
  'public.parents_tag_key',
  'public.parents_a_b_c_d_key',
  'public.children_pkey',
  'public.children_parent_code_fkey',
  'public.children_self_id_fkey',
  'public.children_mixed_id_fkey',
  'public.children_remote_id_fkey',
  'public.children_shadowed_id_fkey',
  'public.children_own_id_fkey',
  'public.children_a_b_fkey',
  'public.children_late',
  'public.events_pkey',
  'public.events_2026_pkey',
  'public.event_refs_id_at_fkey',
];

const SCHEMAS = ['public', 'Odd Schema'];

let db: TestDatabase;
let client: pg.Client;
let version: number;

beforeAll(async () => {
  db = await createTestDatabase('pf_condef');
  await db.query(SCHEMA);
  ({ client, version } = await connectWithVersion(db));
  if (version >= 150000) {
    await client.query(`
      CREATE TABLE nnd (x integer, y integer, UNIQUE NULLS NOT DISTINCT (x));
      ALTER TABLE nnd ADD FOREIGN KEY (x, y) REFERENCES parents (a, b) ON DELETE SET NULL (y)`);
  }
  if (version >= 180000) {
    await client.query(
      'ALTER TABLE children ADD CONSTRAINT children_loose FOREIGN KEY (a) REFERENCES elsewhere.remote (id) NOT ENFORCED',
    );
  }
});

afterAll(async () => {
  await client.end();
  await db.drop();
});

/** pg_get_constraintdef of every constraint of the schemas, printed with the read's search path. */
async function serverDefinitions(): Promise<Map<string, string>> {
  const { rows } = await client.query<{ key: string; definition: string }>(
    `SELECT n.nspname || '.' || k.conname AS key, pg_get_constraintdef(k.oid) AS definition
     FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
     WHERE n.nspname IN ('public', 'Odd Schema') AND k.contype IN ('p', 'u', 'f', 'c', 'x')
       AND k.conparentid = 0`,
  );
  return new Map(rows.map((row) => [row.key, row.definition]));
}

describe('constraint definitions', () => {
  it('reads every constraint exactly as pg_get_constraintdef prints it', async () => {
    const snapshot = await introspectSchema(client, SCHEMAS);
    const read = new Map<string, string>();
    for (const [name, table] of Object.entries(snapshot.tables)) {
      const schema = name.slice(0, name.lastIndexOf('.'));
      for (const [constraint, state] of Object.entries(table.constraints)) {
        read.set(`${schema}.${constraint}`, state.definition);
      }
    }
    await client.query(`SET search_path = public, "Odd Schema"`);
    const expected = await serverDefinitions();
    await client.query('RESET search_path');
    // The partition's copy of the parent's primary key is its own constraint: read too.
    expect(read.size).toBeGreaterThanOrEqual(expected.size);
    expect(read.size).toBeGreaterThan(PLAIN.length + 3);
    for (const [key, definition] of expected)
      expect([key, read.get(key)]).toEqual([key, definition]);
    // The ones printed with a qualified name, or left to pg_get_constraintdef, read as they should.
    expect(read.get('public.children_remote_id_fkey')).toBe(
      'FOREIGN KEY (remote_id) REFERENCES elsewhere.remote(id) ON UPDATE RESTRICT ON DELETE SET DEFAULT',
    );
    expect(read.get('public.children_shadowed_id_fkey')).toBe(
      'FOREIGN KEY (shadowed_id) REFERENCES public.pg_settings(id) MATCH FULL',
    );
    // The query probes pg_catalog's names only for a name that starts with pg_: it must hold on
    // this server that every relation of pg_catalog has such a name.
    const unprefixed = await client.query(
      `SELECT relname FROM pg_class
       WHERE relnamespace = 'pg_catalog'::regnamespace AND NOT starts_with(relname::text, 'pg_')`,
    );
    expect(unprefixed.rows).toEqual([]);
    // A pg_ name that no relation of pg_catalog has: probed, and found visible.
    expect(read.get('public.children_own_id_fkey')).toBe(
      'FOREIGN KEY (own_id) REFERENCES pg_own(id)',
    );
    expect(read.get('public.children_late')).toBe(
      'FOREIGN KEY (b, a) REFERENCES parents(a, b) NOT VALID',
    );
  });

  it('qualifies a referenced table that a temporary one of the same name hides', async () => {
    await client.query('CREATE TEMPORARY TABLE parents (a integer)');
    try {
      const snapshot = await introspectSchema(client, SCHEMAS);
      const definitions = Object.fromEntries(
        Object.entries(snapshot.tables['public.children']?.constraints ?? {}).map(
          ([name, state]) => [name, state.definition],
        ),
      );
      expect(definitions['children_a_b_fkey']).toBe(
        'FOREIGN KEY (a, b) REFERENCES public.parents(a, b) MATCH FULL ON UPDATE SET NULL',
      );
      await client.query(`SET search_path = public, "Odd Schema"`);
      const expected = await serverDefinitions();
      await client.query('RESET search_path');
      expect(definitions['children_late']).toBe(expected.get('public.children_late'));
    } finally {
      await client.query('DROP TABLE pg_temp.parents');
    }
  });

  it('builds the plain ones itself and leaves the others to pg_get_constraintdef', async () => {
    const built = await builtByQuery(
      client,
      version,
      SCHEMAS,
      'constraints',
      'pg_catalog.pg_get_constraintdef(k.oid)',
      (row) => `${row.schema}.${row.name}`,
    );
    expect(built).toEqual([...PLAIN].sort());
  });
});
