import pg from 'pg';
import { builtByQuery } from '../helpers/built-definitions.js';
import { introspectSchema } from '../../src/schema/introspect.js';
import { connectWithVersion, createTestDatabase, type TestDatabase } from '../helpers/db.js';

/*
 * Plain indexes have their definition built by the catalog query instead of pg_get_indexdef
 * (introspect-queries.ts). Every index here must read exactly as pg_get_indexdef prints it, and
 * the plain ones must really take the fast path (or the speed-up is silently lost).
 */

const SCHEMA = `
CREATE SCHEMA "Odd Schema";
CREATE TYPE mood AS ENUM ('ok', 'meh');
CREATE DOMAIN short_text AS text;
CREATE TABLE "Odd Schema"."Mixed Case" (
  id bigint PRIMARY KEY,
  "order" integer NOT NULL,
  "Name" text NOT NULL,
  "select" varchar(20) UNIQUE
);
CREATE TABLE items (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uid uuid NOT NULL UNIQUE,
  code varchar(32) NOT NULL,
  fixed char(4),
  title text NOT NULL,
  c_title text COLLATE "C",
  flag boolean,
  seen timestamptz NOT NULL DEFAULT now(),
  tags text[],
  doc jsonb,
  during tstzrange,
  feeling mood,
  nick short_text,
  nm name,
  num numeric(10, 2),
  qty integer,
  gone integer,
  tsv tsvector,
  a1 integer,
  a2 integer,
  a3 integer,
  a4 integer,
  a5 integer
);
ALTER TABLE items DROP COLUMN gone;
CREATE INDEX items_code_idx ON items (code);
CREATE INDEX items_fixed_idx ON items (fixed);
CREATE INDEX items_multi_idx ON items (flag, seen DESC, title);
CREATE INDEX items_nulls_first_idx ON items (title NULLS FIRST);
CREATE INDEX items_desc_nulls_last_idx ON items (seen DESC NULLS LAST);
CREATE INDEX items_default_opclass_idx ON items (title text_ops);
CREATE INDEX items_c_title_idx ON items (c_title);
CREATE INDEX items_num_idx ON items (num);
CREATE INDEX items_nm_idx ON items (nm);
CREATE INDEX items_qty_idx ON items (qty);
CREATE INDEX items_qty_oid_idx ON items (qty oid_ops);
CREATE INDEX items_hash_idx ON items USING hash (title);
CREATE INDEX items_brin_idx ON items USING brin (seen);
CREATE INDEX items_doc_idx ON items USING gin (doc);
CREATE INDEX items_pattern_idx ON items (title text_pattern_ops);
CREATE INDEX items_code_pattern_idx ON items (code varchar_pattern_ops);
CREATE INDEX items_code_bpchar_idx ON items (code bpchar_ops);
CREATE INDEX items_collate_idx ON items (title COLLATE "C");
CREATE INDEX items_expr_idx ON items (lower(title));
CREATE INDEX items_partial_idx ON items (seen) WHERE flag;
CREATE INDEX items_include_idx ON items (code) INCLUDE (title);
CREATE INDEX items_fill_idx ON items (uid) WITH (fillfactor = 70);
CREATE INDEX items_tags_idx ON items USING gin (tags);
CREATE INDEX items_during_idx ON items USING gist (during);
CREATE INDEX items_feeling_idx ON items (feeling);
CREATE INDEX items_nick_idx ON items (nick);
CREATE INDEX items_tsv_idx ON items USING gist (tsv);
CREATE INDEX items_tsv_siglen_idx ON items USING gist (tsv tsvector_ops (siglen = 32));
CREATE INDEX items_four_idx ON items (a1, a2 DESC, a3 NULLS FIRST, a4);
CREATE INDEX items_five_idx ON items (a1, a2, a3, a4, a5);
CREATE INDEX items_siglen_idx ON items USING gist (to_tsvector('simple', title) tsvector_ops (siglen = 32));
ALTER TABLE items ADD CONSTRAINT items_no_overlap EXCLUDE USING gist (during WITH &&);
CREATE TABLE events (id bigint NOT NULL, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX events_at_idx ON events (at);
CREATE MATERIALIZED VIEW item_titles AS SELECT id, title FROM items;
CREATE UNIQUE INDEX item_titles_id_idx ON item_titles (id);
`;

/**
 * Indexes whose definition the catalog query builds itself. Not items_tsv_idx: tsvector_ops takes
 * options (siglen), so its columns are left to pg_get_indexdef, with options (items_tsv_siglen_idx)
 * or without; nor items_five_idx (more columns than the query builds).
 */
const PLAIN = [
  'Odd Schema.Mixed Case_pkey',
  'Odd Schema.Mixed Case_select_key',
  'public.items_pkey',
  'public.items_uid_key',
  'public.items_code_idx',
  'public.items_fixed_idx',
  'public.items_multi_idx',
  'public.items_nulls_first_idx',
  'public.items_desc_nulls_last_idx',
  'public.items_default_opclass_idx',
  'public.items_c_title_idx',
  'public.items_num_idx',
  'public.items_nm_idx',
  'public.items_qty_idx',
  'public.items_hash_idx',
  'public.items_brin_idx',
  'public.items_doc_idx',
  'public.items_four_idx',
  'public.events_2026_pkey',
  'public.events_2026_at_idx',
  'public.item_titles_id_idx',
];

let db: TestDatabase;
let client: pg.Client;
let version: number;

const SCHEMAS = ['public', 'Odd Schema'];

beforeAll(async () => {
  db = await createTestDatabase('pf_indexdef');
  await db.query(SCHEMA);
  ({ client, version } = await connectWithVersion(db));
  if (version >= 150000) {
    await client.query('CREATE UNIQUE INDEX items_nnd_idx ON items (code) NULLS NOT DISTINCT');
  }
});

afterAll(async () => {
  await client.end();
  await db.drop();
});

async function serverDefinitions(): Promise<Map<string, string>> {
  const { rows } = await client.query<{ key: string; definition: string }>(
    `SELECT n.nspname || '.' || c.relname AS key, pg_get_indexdef(x.indexrelid) AS definition
     FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('public', 'Odd Schema')`,
  );
  return new Map(rows.map((row) => [row.key, row.definition]));
}

describe('index definitions', () => {
  it('reads every index exactly as pg_get_indexdef prints it', async () => {
    const snapshot = await introspectSchema(client, SCHEMAS);
    const read = new Map<string, string>();
    for (const [name, owner] of [
      ...Object.entries(snapshot.tables),
      ...Object.entries(snapshot.views),
    ]) {
      const schema = name.slice(0, name.lastIndexOf('.'));
      for (const [index, state] of Object.entries(owner.indexes)) {
        read.set(`${schema}.${index}`, state.definition);
      }
    }
    const expected = await serverDefinitions();
    // Partitioned parents' indexes are read too (ON ONLY): every index of the two schemas.
    expect(read.size).toBe(expected.size);
    expect(read.size).toBeGreaterThan(PLAIN.length + 10);
    for (const [key, definition] of expected)
      expect([key, read.get(key)]).toEqual([key, definition]);
  });

  it('builds the plain ones itself and leaves the others to pg_get_indexdef', async () => {
    const built = await builtByQuery(
      client,
      version,
      SCHEMAS,
      'indexes',
      'pg_catalog.pg_get_indexdef(x.indexrelid)',
      (row) => `${row.schema}.${row.name}`,
    );
    expect(built).toEqual([...PLAIN].sort());
  });
});
