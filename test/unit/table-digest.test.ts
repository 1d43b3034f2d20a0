import { sha256 } from '../../src/migrations/checksum.js';
import type { DigestRow } from '../../src/schema/introspect-queries.js';
import { formatExpectedSchema } from '../../src/schema/expected-file.js';
import {
  comparedTables,
  expectedTableDigests,
  planByDigest,
  tableText,
  vouchByDigest,
  withoutTables,
} from '../../src/schema/table-digest.js';
import type {
  ExpectedSchema,
  PolicyExpectation,
  TableExpectation,
} from '../../src/schema/types.js';

const USERS: TableExpectation = {
  kind: 'table',
  partitionKey: null,
  partitionOf: null,
  partitionBound: null,
  rls: false,
  rlsForced: false,
  columns: {
    id: { type: 'integer', nullable: false, default: null, identity: 'always', generated: null },
    bio: {
      type: 'text',
      nullable: true,
      default: '\'say "hi"\n\'::text',
      identity: null,
      generated: null,
    },
  },
  indexes: {
    users_pkey: {
      definition: 'CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)',
      valid: true,
    },
  },
  constraints: {
    users_pkey: {
      type: 'primary key',
      definition: 'PRIMARY KEY (id)',
      deferrable: false,
      deferred: false,
      validated: true,
    },
  },
  triggers: { audit: { definition: 'CREATE TRIGGER audit ...', enabled: 'replica' } },
  policies: {
    mine: {
      command: 'select',
      permissive: true,
      roles: ['b', 'a'],
      using: 'true',
      withCheck: null,
    },
  },
};

const MINE = (USERS.policies as Record<string, PolicyExpectation>)['mine'];

describe('tableText', () => {
  it('is the table exactly as the file writes it, at its depth in the file', () => {
    const file = formatExpectedSchema({ tables: { 'public.users': USERS } });
    const text = tableText(USERS);
    expect(file).toContain(`\n    "public.users": ${text}\n  }`);
    expect(text.startsWith('{\n      "columns": {\n        "bio": {\n          "default": ')).toBe(
      true,
    );
    expect(text.endsWith('\n      }\n    }')).toBe(true);
    expect(JSON.parse(text)).toEqual(USERS);
  });

  it.each<[string, TableExpectation]>([
    ['a table property left out', { ...USERS, rls: undefined }],
    ['a collection of names only', { ...USERS, columns: ['id', 'bio'] }],
    ['a column property left out', { ...USERS, columns: { id: { type: 'integer' } } }],
    [
      'policy roles in another order',
      { ...USERS, policies: { mine: { ...MINE, roles: ['a', 'b'] } } },
    ],
  ])('differs for %s (the table is read and compared)', (_name, table) => {
    expect(tableText(table)).not.toBe(tableText(USERS));
  });

  it('does not depend on the order the file lists keys in', () => {
    const reordered = Object.fromEntries(Object.entries(USERS).reverse()) as TableExpectation;
    expect(tableText(reordered)).toBe(tableText(USERS));
  });
});

describe('planByDigest', () => {
  const digest = sha256(tableText(USERS));
  /** The server's row of a table, its digest, and whether it has an INVALID index. */
  const table = (name: string, oid: number, tableDigest: string, invalid = false): DigestRow => ({
    oid,
    schema: 'public',
    name,
    digest: tableDigest,
    length: 0,
    counts: [],
    invalid,
  });
  const file: ExpectedSchema = {
    exhaustive: true,
    tables: { 'public.users': USERS, 'public.posts': { columns: ['id'] }, 'public.gone': USERS },
  };
  const isOwn = (name: string): boolean => name === 'preflight_migrations';

  it('reads every table without an equal digest, and leaves the vouched ones out of the file', () => {
    const digests = expectedTableDigests(file);
    expect([...digests.keys()].sort()).toEqual(['public.gone', 'public.posts', 'public.users']);
    const plan = planByDigest(
      file,
      digests,
      [
        table('users', 1, digest),
        table('posts', 2, 'anything'),
        table('extra', 3, 'anything'),
        table('preflight_migrations', 4, 'anything'),
      ],
      isOwn,
    );
    expect(plan.read).toEqual([2, 3]);
    expect(plan.vouched).toBe(1);
    expect(Object.keys(plan.expected.tables ?? {}).sort()).toEqual(['public.gone', 'public.posts']);
    expect(plan.expected.exhaustive).toBe(true);
  });

  it('reads a table whose digest differs', () => {
    const plan = planByDigest(
      file,
      expectedTableDigests(file),
      [table('users', 1, 'other')],
      isOwn,
    );
    expect(plan).toMatchObject({ read: [1], vouched: 0 });
    expect(plan.expected).toBe(file);
  });

  it('reads a table with an INVALID index, even with an equal digest', () => {
    const rows = [table('users', 1, digest, true)];
    const plan = planByDigest(file, expectedTableDigests(file), rows, isOwn);
    expect(plan).toMatchObject({ read: [1], vouched: 0 });
  });

  it('reads, of the tables a partial file does not list, only those with an INVALID index', () => {
    const partial: ExpectedSchema = { tables: { 'public.users': USERS } };
    const plan = planByDigest(
      partial,
      expectedTableDigests(partial),
      [table('users', 1, digest), table('other', 2, 'anything'), table('broken', 3, 'x', true)],
      isOwn,
    );
    expect(plan).toMatchObject({ read: [3], vouched: 1 });
    expect(plan.expected.tables).toEqual({});
  });

  it('reads, for a file without tables (none is compared), only those with an INVALID index', () => {
    const none: ExpectedSchema = { exhaustive: true, functions: {} };
    const rows = [table('users', 1, digest), table('broken', 2, digest, true)];
    expect(planByDigest(none, new Map(), rows, isOwn)).toEqual({
      read: [2],
      expected: none,
      vouched: 0,
    });
  });

  it('vouchByDigest compares every table unless told otherwise, and names what it vouches for', () => {
    const digests = new Map([['public.users', digest]]);
    const rows = [table('users', 1, digest), table('posts', 2, 'x')];
    expect(vouchByDigest(digests, rows, isOwn)).toEqual({
      read: [2],
      vouched: new Set(['public.users']),
    });
    expect(vouchByDigest(digests, rows, isOwn, (name) => name !== 'public.posts')).toEqual({
      read: [],
      vouched: new Set(['public.users']),
    });
  });

  it('withoutTables leaves the file as it is when nothing is vouched for', () => {
    expect(withoutTables(file, new Set())).toBe(file);
    expect(Object.keys(withoutTables(file, new Set(['public.gone'])).tables ?? {})).toEqual([
      'public.users',
      'public.posts',
    ]);
  });
});

describe('comparedTables', () => {
  it.each<[string, ExpectedSchema, readonly string[] | undefined]>([
    [
      'every table of an exhaustive file',
      { exhaustive: true, tables: { 'public.a': {} } },
      undefined,
    ],
    [
      'the tables a partial file lists',
      { tables: { 'public.a': {}, 'public.b': {} } },
      ['public.a', 'public.b'],
    ],
    ['the tables listed by name', { tables: ['public.a'] }, ['public.a']],
    ['none without tables, exhaustive or not', { exhaustive: true, functions: {} }, []],
  ])('are %s', (_name, file, tables) => {
    expect(comparedTables(file)).toEqual(tables);
  });
});
