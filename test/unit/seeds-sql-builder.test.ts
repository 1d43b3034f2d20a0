import {
  checkSeedTarget,
  splitTable,
  tableKey,
  type ColumnInfo,
  type SeedCatalog,
  type TableInfo,
  type UniqueIndexInfo,
} from '../../src/seeds/catalog.js';
import {
  buildUpsert,
  buildVerify,
  encodeValue,
  failingParam,
  groupRows,
  quoteIdent,
  quoteTable,
} from '../../src/seeds/sql-builder.js';
import type { RowsSeedFile, SeedRow } from '../../src/seeds/types.js';

const column = (name: string, type = 'text', extra: Partial<ColumnInfo> = {}): ColumnInfo => ({
  name,
  type,
  isArray: type.endsWith('[]'),
  identity: '',
  generated: '',
  ...extra,
});

const index = (
  name: string,
  columns: string[],
  extra: Partial<UniqueIndexInfo> = {},
): UniqueIndexInfo => ({
  name,
  columns,
  valid: true,
  immediate: true,
  partial: false,
  expression: false,
  ...extra,
});

const table = (
  columns: ColumnInfo[],
  uniqueIndexes: UniqueIndexInfo[],
  relkind = 'r',
): TableInfo => ({
  relkind,
  columns: new Map(columns.map((c) => [c.name, c])),
  uniqueIndexes,
});

const roles: TableInfo = table(
  [
    column('id', 'uuid'),
    column('name'),
    column('description'),
    column('can_manage_team', 'boolean'),
  ],
  [index('team_roles_pkey', ['id']), index('team_roles_name_key', ['name'])],
);

const seedOf = (fields: Partial<RowsSeedFile>): RowsSeedFile => ({
  kind: 'rows',
  name: '010_system_roles.json',
  path: '/app/seeds/010_system_roles.json',
  table: 'team_roles',
  key: ['name'],
  mode: 'insert-missing',
  rows: [],
  ...fields,
});

const catalogOf = (t: TableInfo, name = 'team_roles'): SeedCatalog =>
  new Map([[tableKey(name), t]]);

describe('identifiers', () => {
  it('quotes as written, keeping case and doubling quotes', () => {
    expect(quoteIdent('licenseNumber')).toBe('"licenseNumber"');
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(quoteTable('team_roles')).toBe('"public"."team_roles"');
    expect(quoteTable('Billing.Plans')).toBe('"Billing"."Plans"');
    expect(splitTable('billing.plans')).toEqual({ schema: 'billing', name: 'plans' });
  });
});

describe('checkSeedTarget', () => {
  const seed = seedOf({ rows: [{ name: 'Owner', can_fly: true, description: 'x' }] });
  const cases: [string, RowsSeedFile, SeedCatalog, string[]][] = [
    [
      'missing table',
      seed,
      new Map(),
      [
        'seeds/010_system_roles.json: table team_roles does not exist in schema public: run the migrations that create it, or fix "table"',
      ],
    ],
    [
      'a view',
      seed,
      catalogOf(table([...roles.columns.values()], [], 'v')),
      ['seeds/010_system_roles.json: team_roles is not a table (relkind v): seeds write to tables'],
    ],
    [
      'unknown column',
      seed,
      catalogOf(roles),
      ['seeds/010_system_roles.json: column team_roles.can_fly does not exist'],
    ],
    [
      'unknown key column: the index is not checked',
      seedOf({ key: ['nom'], rows: [{ nom: 'x' }] }),
      catalogOf(roles),
      ['seeds/010_system_roles.json: column team_roles.nom does not exist'],
    ],
    [
      'no unique index',
      seedOf({ rows: [{ name: 'Owner' }] }),
      catalogOf(table([column('name')], [])),
      [
        'seeds/010_system_roles.json: key (name) of team_roles has no unique index: add a unique constraint on (name), or change "key"',
      ],
    ],
    [
      'only unusable unique indexes',
      seedOf({ rows: [{ name: 'Owner' }] }),
      catalogOf(
        table(
          [column('name')],
          [
            index('a', ['name'], { partial: true }),
            index('b', ['name'], { valid: false }),
            index('c', ['name'], { immediate: false }),
            index('d', ['name', 'x']),
          ],
        ),
      ),
      [
        'seeds/010_system_roles.json: key (name) of team_roles has no unique index usable by ON CONFLICT (a is partial, b is INVALID, c is DEFERRABLE): add a unique constraint on (name), or change "key"',
      ],
    ],
    [
      'composite key in any order',
      seedOf({ key: ['b', 'a'], rows: [{ a: 1, b: 2 }] }),
      catalogOf(table([column('a'), column('b')], [index('ab', ['a', 'b'])])),
      [],
    ],
    [
      'generated and identity columns',
      seedOf({ rows: [{ name: 'x', id: 1, total: 2 }] }),
      catalogOf(
        table(
          [
            column('name'),
            column('id', 'integer', { identity: 'a' }),
            column('total', 'integer', { generated: 's' }),
          ],
          [index('n', ['name'])],
        ),
      ),
      [
        'seeds/010_system_roles.json: column team_roles.id is GENERATED ALWAYS AS IDENTITY: leave it out of the rows, or make it BY DEFAULT',
        'seeds/010_system_roles.json: column team_roles.total is a generated column: leave it out of the rows',
      ],
    ],
    [
      'schema-qualified table',
      seedOf({ table: 'billing.plans', key: ['code'], rows: [{ code: 'pro' }] }),
      catalogOf(table([column('code')], [index('p', ['code'])]), 'billing.plans'),
      [],
    ],
  ];
  it.each(cases)('%s', (_name, s, catalog, expected) => {
    expect(checkSeedTarget(s, catalog).map((i) => i.message)).toEqual(expected);
  });
});

describe('groupRows', () => {
  it('groups rows by the set of columns they name, whatever the order', () => {
    const groups = groupRows(
      ([{ name: 'a', x: 1 }, { x: 2, name: 'b' }, { name: 'c' }] as SeedRow[]).map(
        (row, index) => ({
          index,
          row,
        }),
      ),
    );
    expect(groups.map((g) => [g.columns, g.rows.map((r) => r.index)])).toEqual([
      [
        ['name', 'x'],
        [0, 1],
      ],
      [['name'], [2]],
    ]);
  });

  it('splits a group that would exceed the parameter limit', () => {
    const rows = Array.from({ length: 20_000 }, (_, index) => ({ index, row: { a: index, b: 1 } }));
    expect(groupRows(rows).map((g) => g.rows.length)).toEqual([10_000, 10_000]);
  });
});

describe('encodeValue', () => {
  it.each([
    ['a string for text', 'x', column('c'), 'x'],
    ['null', null, column('c', 'jsonb'), null],
    ['a string for jsonb is a JSON string', 'x', column('c', 'jsonb'), '"x"'],
    ['an object for jsonb', { a: [1] }, column('c', 'jsonb'), '{"a":[1]}'],
    ['an array for json', [1, 2], column('c', 'json'), '[1,2]'],
    ['an array for an array column', ['a', 'b'], column('c', 'text[]'), ['a', 'b']],
    ['a boolean', true, column('c', 'boolean'), true],
  ])('%s', (_name, value, col, expected) => {
    expect(encodeValue(value, col)).toEqual(expected);
  });
});

describe('buildUpsert', () => {
  const rows = [
    { name: 'Owner', can_manage_team: true },
    { name: 'Viewer', can_manage_team: false },
  ];
  const group = groupRows(rows.map((row, index) => ({ index, row })))[0]!;

  it('insert-missing: one multi-row INSERT, values as typed parameters, DO NOTHING', () => {
    const statement = buildUpsert(seedOf({ rows }), group, roles);
    expect(statement.text).toBe(
      `INSERT INTO "public"."team_roles" AS t ("name", "can_manage_team")
VALUES
  ($1::text, $2::boolean),
  ($3::text, $4::boolean)
ON CONFLICT ("name") DO NOTHING
RETURNING (t.xmax = 0) AS inserted`,
    );
    expect(statement.values).toEqual(['Owner', true, 'Viewer', false]);
    expect(statement.params[3]).toEqual({ row: 1, column: 'can_manage_team' });
  });

  it('upsert: updates the other columns only where one differs', () => {
    const statement = buildUpsert(seedOf({ rows, mode: 'upsert' }), group, roles);
    expect(statement.text).toContain(
      `ON CONFLICT ("name") DO UPDATE SET "can_manage_team" = EXCLUDED."can_manage_team"
  WHERE t."can_manage_team" IS DISTINCT FROM EXCLUDED."can_manage_team"
RETURNING (t.xmax = 0) AS inserted`,
    );
  });

  it('upsert of key-only rows does nothing on conflict', () => {
    const keyOnly = groupRows([{ index: 0, row: { name: 'Owner' } }])[0]!;
    expect(buildUpsert(seedOf({ mode: 'upsert' }), keyOnly, roles).text).toContain('DO NOTHING');
  });

  it('compares json columns as jsonb', () => {
    const t = table([column('k'), column('doc', 'json')], [index('k', ['k'])]);
    const g = groupRows([{ index: 0, row: { k: 'a', doc: {} } }])[0]!;
    expect(buildUpsert(seedOf({ key: ['k'], mode: 'upsert' }), g, t).text).toContain(
      'WHERE t."doc"::jsonb IS DISTINCT FROM EXCLUDED."doc"::jsonb',
    );
  });
});

describe('buildVerify', () => {
  it('checks only the key of insert-missing rows, and leaves out unknown columns', () => {
    const [statement, ...more] = buildVerify(
      seedOf({ rows: [{ name: 'Owner', description: 'x', can_fly: true }] }),
      roles,
    );
    expect(more).toEqual([]);
    expect(statement!.values).toEqual([0, 'Owner']);
    expect(statement!.text).toContain(
      'LEFT JOIN "public"."team_roles" AS t ON t."name" = v."name"',
    );
  });

  it('unions the column sets of upsert rows into one query', () => {
    const statements = buildVerify(
      seedOf({ mode: 'upsert', rows: [{ name: 'a', description: 'x' }, { name: 'b' }] }),
      roles,
    );
    expect(statements).toHaveLength(1);
    expect(statements[0]!.text.match(/UNION ALL/g)).toHaveLength(1);
    expect(statements[0]!.values).toEqual([0, 'a', 'x', 1, 'b']);
  });
});

describe('failingParam', () => {
  it('maps the server context `unnamed portal parameter $n` to the row and column', () => {
    const statement = {
      text: '',
      values: [],
      params: [
        { row: 0, column: 'a' },
        { row: 3, column: 'b' },
      ],
    };
    expect(
      failingParam({ message: 'x', where: "unnamed portal parameter $2 = '...'" }, statement),
    ).toEqual({
      row: 3,
      column: 'b',
    });
    expect(failingParam({ message: 'x' }, statement)).toBeUndefined();
  });
});
