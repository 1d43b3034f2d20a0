import type pg from 'pg';
import type { DigestRow } from '../../src/schema/introspect-queries.js';
import { introspectSchema, startDigestRead } from '../../src/schema/introspect.js';
import { connectAsSession, createTestDatabase, type TestDatabase } from '../helpers/db.js';

// Constants whose text depends on the session's settings, in every place the catalog prints them.
const SCHEMA = `
CREATE TABLE stamps (
  id int PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00',
  day date DEFAULT '2026-03-04',
  span interval DEFAULT '1 day 2 hours',
  ratio float8 DEFAULT 0.1,
  raw bytea DEFAULT '\\x0001',
  path text DEFAULT E'C:\\\\temp',
  CONSTRAINT after_start CHECK (day > '2020-01-02')
);
CREATE INDEX stamps_recent ON stamps (at) WHERE at > '2025-06-01 12:00:00+00';
CREATE TABLE days (day date NOT NULL) PARTITION BY RANGE (day);
CREATE TABLE days_2026 PARTITION OF days FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE VIEW recent AS SELECT id FROM stamps WHERE at > now() - interval '3 days 4 hours';
`;

/** Settings a server, a database or a role may well have, each printing its constants otherwise. */
const ELSEWHERE = `SET TimeZone = 'Asia/Tokyo'; SET DateStyle = 'SQL, DMY';
SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 3; SET bytea_output = 'escape';
SET standard_conforming_strings = off; SET quote_all_identifiers = on`;

const SETTINGS_NOW = `SELECT current_setting('TimeZone') AS tz, current_setting('DateStyle') AS ds,
  current_setting('IntervalStyle') AS iv, current_setting('extra_float_digits') AS fd,
  current_setting('bytea_output') AS bo, current_setting('standard_conforming_strings') AS sc,
  current_setting('quote_all_identifiers') AS qa`;

async function digestsOf(client: pg.Client): Promise<DigestRow[]> {
  const read = await startDigestRead(client, ['public'], undefined, undefined, undefined, false);
  const { plan } = await read.finish((digests: DigestRow[]) => ({ read: [], digests }));
  return [...plan.digests].sort((a, b) => (a.name < b.name ? -1 : 1));
}

describe('the catalog as read', () => {
  let db: TestDatabase;
  let here: pg.Client;
  let elsewhere: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase('pf_print');
    await db.query(SCHEMA);
    here = await connectAsSession(db.url);
    elsewhere = await connectAsSession(db.url);
    await elsewhere.query(ELSEWHERE);
  });

  afterAll(async () => {
    await here.end();
    await elsewhere.end();
    await db.drop();
  });

  it("prints the same whatever the session's time zone, date, interval, float, bytea, string and quoting settings", async () => {
    const snapshot = await introspectSchema(here, ['public']);
    expect(await introspectSchema(elsewhere, ['public'])).toEqual(snapshot);
    // UTC, ISO dates, postgres intervals, shortest floats, hex bytea.
    const columns = Object.fromEntries(
      Object.entries(snapshot.tables['public.stamps']?.columns ?? {}).map(([name, c]) => [
        name,
        c.default,
      ]),
    );
    expect(columns).toMatchObject({
      at: "'2026-01-01 00:00:00+00'::timestamp with time zone",
      day: "'2026-03-04'::date",
      span: "'1 day 02:00:00'::interval",
      ratio: '0.1',
      raw: "'\\x0001'::bytea",
      path: "'C:\\temp'::text",
    });
    expect(snapshot.tables['public.stamps']?.indexes['stamps_recent']?.definition).toMatch(
      /^CREATE INDEX stamps_recent ON public\.stamps USING btree \(at\) WHERE/,
    );
    expect(snapshot.tables['public.days_2026']?.partitionBound).toBe(
      "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
    );
  });

  it('has the same digests whatever those settings, and leaves them as they were', async () => {
    const before = (await elsewhere.query(SETTINGS_NOW)).rows[0] as Record<string, string>;
    expect(before.tz).toBe('Asia/Tokyo');
    const digests = await digestsOf(here);
    expect(digests.length).toBeGreaterThan(0);
    expect(await digestsOf(elsewhere)).toEqual(digests);
    expect((await elsewhere.query(SETTINGS_NOW)).rows[0]).toEqual(before);
  });
});
