import pg from 'pg';
import { builtByQuery } from '../helpers/built-definitions.js';
import { introspectSchema } from '../../src/schema/introspect.js';
import { connectWithVersion, createTestDatabase, type TestDatabase } from '../helpers/db.js';

/*
 * Plain triggers have their definition built by the catalog query instead of pg_get_triggerdef
 * (introspect-queries.ts). Every trigger here must read exactly as pg_get_triggerdef prints it
 * with the search path the read sets, and the plain ones must really take the fast path (or the
 * speed-up is silently lost).
 */

const SCHEMA = `
CREATE SCHEMA "Odd Schema";
CREATE SCHEMA elsewhere;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION "Touch Fn"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION elsewhere.remote_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
-- pg_catalog, searched first, has a now() of its own.
CREATE FUNCTION now() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
-- Two functions of one name: only the one without arguments is a trigger function.
CREATE FUNCTION twice() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION twice(integer) RETURNS integer LANGUAGE sql AS 'SELECT 1';
-- A bare name with a dot, as a qualified one has.
CREATE FUNCTION "dotted.name"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION "Odd Schema".odd_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TABLE items (id integer PRIMARY KEY, name text, price integer);
CREATE TABLE "Odd Schema"."Mixed Case" (id integer PRIMARY KEY);
CREATE VIEW item_names AS SELECT id, name FROM items;
CREATE TRIGGER plain_row BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TRIGGER "Odd ""Trigger""" AFTER INSERT OR DELETE ON items FOR EACH STATEMENT EXECUTE FUNCTION touch();
CREATE TRIGGER every_event AFTER INSERT OR UPDATE OR DELETE ON items FOR EACH ROW EXECUTE FUNCTION "Touch Fn"();
CREATE TRIGGER on_truncate BEFORE TRUNCATE ON items FOR EACH STATEMENT EXECUTE FUNCTION touch();
CREATE TRIGGER disabled BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION touch();
ALTER TABLE items DISABLE TRIGGER disabled;
CREATE TRIGGER instead INSTEAD OF INSERT ON item_names FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TRIGGER odd_table BEFORE INSERT ON "Odd Schema"."Mixed Case" FOR EACH ROW EXECUTE FUNCTION "Odd Schema".odd_touch();
CREATE TRIGGER columns BEFORE UPDATE OF price, name ON items FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TRIGGER guarded BEFORE UPDATE ON items FOR EACH ROW WHEN (OLD.price IS DISTINCT FROM NEW.price) EXECUTE FUNCTION touch();
CREATE TRIGGER with_args AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION touch('a', 'it''s');
CREATE TRIGGER transition AFTER INSERT ON items REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION touch();
CREATE CONSTRAINT TRIGGER deferred AFTER INSERT ON items DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TRIGGER remote BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION elsewhere.remote_touch();
CREATE TRIGGER shadowed BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION public.now();
CREATE TRIGGER overloaded BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION twice();
CREATE TRIGGER dotted BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION "dotted.name"();
`;

/** Triggers whose definition the catalog query builds itself. */
const PLAIN = [
  'public.items.plain_row',
  'public.items.Odd "Trigger"',
  'public.items.every_event',
  'public.items.on_truncate',
  'public.items.disabled',
  'public.item_names.instead',
  'Odd Schema.Mixed Case.odd_table',
];

const SCHEMAS = ['public', 'Odd Schema'];

let db: TestDatabase;
let client: pg.Client;
let version: number;

beforeAll(async () => {
  db = await createTestDatabase('pf_trigdef');
  await db.query(SCHEMA);
  ({ client, version } = await connectWithVersion(db));
});

afterAll(async () => {
  await client.end();
  await db.drop();
});

/** pg_get_triggerdef of every trigger of the schemas, printed with the read's search path. */
async function serverDefinitions(): Promise<Map<string, string>> {
  await client.query(`SET search_path = public, "Odd Schema"`);
  try {
    const { rows } = await client.query<{ key: string; definition: string }>(
      `SELECT n.nspname || '.' || c.relname || '.' || t.tgname AS key,
         pg_get_triggerdef(t.oid) AS definition
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname IN ('public', 'Odd Schema') AND NOT t.tgisinternal`,
    );
    return new Map(rows.map((row) => [row.key, row.definition]));
  } finally {
    await client.query('RESET search_path');
  }
}

describe('trigger definitions', () => {
  it('reads every trigger exactly as pg_get_triggerdef prints it', async () => {
    const snapshot = await introspectSchema(client, SCHEMAS);
    const read = new Map<string, string>();
    for (const [name, owner] of [
      ...Object.entries(snapshot.tables),
      ...Object.entries(snapshot.views),
    ]) {
      for (const [trigger, state] of Object.entries(owner.triggers))
        read.set(`${name}.${trigger}`, state.definition);
    }
    const expected = await serverDefinitions();
    expect(expected.size).toBe(PLAIN.length + 9);
    expect([...read.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [key, definition] of expected)
      expect([key, read.get(key)]).toEqual([key, definition]);
    // The plain ones, and the ones left to pg_get_triggerdef, read as they should.
    expect(read.get('public.items.every_event')).toBe(
      'CREATE TRIGGER every_event AFTER INSERT OR DELETE OR UPDATE ON public.items FOR EACH ROW EXECUTE FUNCTION "Touch Fn"()',
    );
    expect(read.get('public.items.shadowed')).toBe(
      'CREATE TRIGGER shadowed BEFORE INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.now()',
    );
    expect(read.get('public.items.dotted')).toBe(
      'CREATE TRIGGER dotted BEFORE INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION "dotted.name"()',
    );
    expect(read.get('public.items.overloaded')).toBe(
      'CREATE TRIGGER overloaded BEFORE INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION twice()',
    );
  });

  it('builds the plain ones itself and leaves the others to pg_get_triggerdef', async () => {
    const built = await builtByQuery(
      client,
      version,
      SCHEMAS,
      'triggers',
      'pg_catalog.pg_get_triggerdef(t.oid)',
      (row) => `${row.schema}.${row.relation}.${row.name}`,
    );
    expect(built).toEqual([...PLAIN].sort());
  });
});
