import { sha256 } from '../../src/migrations/checksum.js';
import type { DigestRow } from '../../src/schema/introspect-queries.js';
import {
  canonicalTableTexts,
  comparedTables,
  expectedTableDigests,
  planByDigest,
} from '../../src/schema/table-digest.js';
import type { ExpectedSchema, TableExpectation } from '../../src/schema/types.js';

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

describe('canonicalTableTexts', () => {
  it('are JSON arrays of the two parts, collections sorted by name, booleans as texts but in policies, policy roles sorted', () => {
    const texts = canonicalTableTexts(USERS);
    expect(JSON.parse(texts?.shape ?? 'null')).toEqual([
      'table',
      null,
      null,
      null,
      false,
      false,
      [
        ['bio', 'text', 'true', `'say "hi"\n'::text`, null, null],
        ['id', 'integer', 'false', null, 'always', null],
      ],
      [['audit', 'CREATE TRIGGER audit ...', 'replica']],
      [['mine', 'select', true, ['a', 'b'], 'true', null]],
    ]);
    expect(JSON.parse(texts?.keys ?? 'null')).toEqual([
      [['users_pkey', 'CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)', 'true']],
      [['users_pkey', 'primary key', 'PRIMARY KEY (id)', 'false', 'false', 'true']],
    ]);
  });

  it.each<[string, TableExpectation]>([
    ['a table property left out', { ...USERS, rls: undefined }],
    ['a collection left out', { ...USERS, triggers: undefined }],
    ['a collection of names only', { ...USERS, columns: ['id', 'bio'] }],
    ['a column property left out', { ...USERS, columns: { id: { type: 'integer' } } }],
    [
      'an INVALID index',
      { ...USERS, indexes: { users_pkey: { definition: 'CREATE ...', valid: false } } },
    ],
  ])('has none for %s (the table is always read)', (_name, table) => {
    expect(canonicalTableTexts(table)).toBeUndefined();
  });
});

describe('planByDigest', () => {
  const texts = canonicalTableTexts(USERS);
  const shape = sha256(texts?.shape ?? '');
  const keys = sha256(texts?.keys ?? '');
  /** The server's rows of a table: both parts, each with its digest; the keys say if INVALID. */
  const table = (
    name: string,
    oid: number,
    shapeDigest: string,
    keysDigest = keys,
    invalid = false,
  ): DigestRow[] => [
    { oid, schema: 'public', name, part: 'shape', digest: shapeDigest, invalid: false },
    { oid, schema: 'public', name, part: 'keys', digest: keysDigest, invalid },
  ];
  const file: ExpectedSchema = {
    exhaustive: true,
    tables: { 'public.users': USERS, 'public.posts': { columns: ['id'] }, 'public.gone': USERS },
  };
  const isOwn = (name: string): boolean => name === 'preflight_migrations';

  it('reads every table without an equal digest, and leaves the vouched ones out of the file', () => {
    const digests = expectedTableDigests(file);
    expect([...digests.keys()].sort()).toEqual(['public.gone', 'public.users']);
    const plan = planByDigest(
      file,
      digests,
      [
        ...table('users', 1, shape),
        ...table('posts', 2, 'anything'),
        ...table('extra', 3, 'anything'),
        ...table('preflight_migrations', 4, 'anything'),
      ],
      isOwn,
    );
    expect(plan.read).toEqual([2, 3]);
    expect(plan.vouched).toBe(1);
    expect(Object.keys(plan.expected.tables ?? {}).sort()).toEqual(['public.gone', 'public.posts']);
    expect(plan.expected.exhaustive).toBe(true);
  });

  it.each([
    ['its shape', table('users', 1, 'other')],
    ['its keys', table('users', 1, shape, 'other')],
    ['a part the server did not send', table('users', 1, shape).slice(0, 1)],
  ])('reads a table whose digest differs in %s', (_name, rows) => {
    const plan = planByDigest(file, expectedTableDigests(file), rows, isOwn);
    expect(plan).toMatchObject({ read: [1], vouched: 0 });
    expect(plan.expected).toBe(file);
  });

  it('reads a table with an INVALID index, even with equal digests', () => {
    const plan = planByDigest(
      file,
      expectedTableDigests(file),
      table('users', 1, shape, keys, true),
      isOwn,
    );
    expect(plan).toMatchObject({ read: [1], vouched: 0 });
  });

  it('reads, of the tables a partial file does not list, only those with an INVALID index', () => {
    const partial: ExpectedSchema = { tables: { 'public.users': USERS } };
    const plan = planByDigest(
      partial,
      expectedTableDigests(partial),
      [
        ...table('users', 1, shape),
        ...table('other', 2, 'anything'),
        ...table('broken', 3, 'anything', keys, true),
      ],
      isOwn,
    );
    expect(plan).toMatchObject({ read: [3], vouched: 1 });
    expect(plan.expected.tables).toEqual({});
  });

  it('reads, for a file without tables (none is compared), only those with an INVALID index', () => {
    const none: ExpectedSchema = { exhaustive: true, functions: {} };
    const rows = [...table('users', 1, shape), ...table('broken', 2, shape, keys, true)];
    expect(planByDigest(none, new Map(), rows, isOwn)).toEqual({
      read: [2],
      expected: none,
      vouched: 0,
    });
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
