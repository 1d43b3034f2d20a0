import {
  seedCatalogFrom,
  storedSeedCatalog,
  type SeedCatalog,
  type TableInfo,
} from '../../src/seeds/catalog.js';
import type { RowsSeedFile } from '../../src/seeds/types.js';

const seed = (table: string): RowsSeedFile =>
  ({
    kind: 'rows',
    name: `${table}.json`,
    table,
    key: ['name'],
    mode: 'upsert',
    rows: [],
  }) as unknown as RowsSeedFile;

const roles: TableInfo = {
  relkind: 'r',
  columns: new Map([
    ['name', { name: 'name', type: 'text', isArray: false, identity: '', generated: '' }],
    ['id', { name: 'id', type: 'bigint', isArray: false, identity: 'a', generated: '' }],
  ]),
  uniqueIndexes: [
    {
      name: 'team_roles_name_key',
      columns: ['name'],
      valid: true,
      immediate: true,
      partial: false,
      expression: false,
    },
  ],
};
const catalog: SeedCatalog = new Map([['["public","team_roles"]', roles]]);

describe('the seeds tables kept with a verified state', () => {
  it('read back as they were stored (through JSON, as the table keeps them)', () => {
    const stored: unknown = JSON.parse(JSON.stringify(storedSeedCatalog(catalog)));
    expect(seedCatalogFrom(stored, [seed('team_roles')])).toEqual(catalog);
    expect(seedCatalogFrom(stored, [seed('public.team_roles')])).toEqual(catalog);
  });

  it('are not used when a seed names a table they do not hold', () => {
    const stored = storedSeedCatalog(catalog);
    expect(seedCatalogFrom(stored, [seed('team_roles'), seed('templates')])).toBeUndefined();
  });

  it.each([
    ['not an array', { key: 'x' }],
    ['a table without a key', [{ relkind: 'r', columns: [], uniqueIndexes: [] }]],
    [
      'a column without a type',
      [
        {
          key: '["public","team_roles"]',
          relkind: 'r',
          columns: [{ name: 'name' }],
          uniqueIndexes: [],
        },
      ],
    ],
    [
      'an index with a column that is not a name',
      [
        {
          key: '["public","team_roles"]',
          relkind: 'r',
          columns: [],
          uniqueIndexes: [{ ...roles.uniqueIndexes[0], columns: [1] }],
        },
      ],
    ],
  ])('are not used when they do not read back: %s', (_what, stored) => {
    expect(seedCatalogFrom(stored, [seed('team_roles')])).toBeUndefined();
  });
});
