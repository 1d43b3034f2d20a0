import { sha256 } from '../../src/migrations/checksum.js';
import type { DigestRow } from '../../src/schema/introspect-queries.js';
import {
  canonicalTableText,
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

describe('canonicalTableText', () => {
  it('is the table as one JSON array, collections sorted by name, policy roles sorted', () => {
    expect(JSON.parse(canonicalTableText(USERS) ?? 'null')).toEqual([
      'table',
      null,
      null,
      null,
      false,
      false,
      [
        ['bio', 'text', true, '\'say "hi"\n\'::text', null, null],
        ['id', 'integer', false, null, 'always', null],
      ],
      [['users_pkey', 'CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)', true]],
      [['users_pkey', 'primary key', 'PRIMARY KEY (id)', false, false, true]],
      [['audit', 'CREATE TRIGGER audit ...', 'replica']],
      [['mine', 'select', true, ['a', 'b'], 'true', null]],
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
    expect(canonicalTableText(table)).toBeUndefined();
  });
});

describe('planByDigest', () => {
  const digest = sha256(canonicalTableText(USERS) ?? '');
  const row = (name: string, value: string, oid: number): DigestRow => ({
    oid,
    schema: 'public',
    name,
    digest: value,
  });
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
        row('users', digest, 1),
        row('posts', 'anything', 2),
        row('extra', 'anything', 3),
        row('preflight_migrations', 'anything', 4),
      ],
      isOwn,
    );
    expect(plan.read).toEqual([2, 3]);
    expect(plan.vouched).toBe(1);
    expect(Object.keys(plan.expected.tables ?? {}).sort()).toEqual(['public.gone', 'public.posts']);
    expect(plan.expected.exhaustive).toBe(true);
  });

  it('reads a table whose digest differs', () => {
    const plan = planByDigest(file, expectedTableDigests(file), [row('users', 'other', 1)], isOwn);
    expect(plan).toMatchObject({ read: [1], vouched: 0 });
    expect(plan.expected).toBe(file);
  });

  it('reads nothing for a file without tables (none is compared)', () => {
    const none: ExpectedSchema = { exhaustive: true, functions: {} };
    expect(planByDigest(none, new Map(), [row('users', digest, 1)], isOwn)).toEqual({
      read: [],
      expected: none,
      vouched: 0,
    });
  });
});
