import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  compareFlatVersions,
  comparePrismaNames,
  listMigrations,
  readListedMigrations,
  readMigrations,
} from '../../src/migrations/source.js';
import { migrationBody } from '../../src/migrations/sections.js';

function directory(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'preflight-source-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

describe('ordering', () => {
  it('compares versions with leading zeros or beyond 2^53 as numbers too', () => {
    const versions = ['9007199254740993', '9007199254740992', '010', '9', '0', '00'];
    expect([...versions].sort(compareFlatVersions)).toEqual([
      '0',
      '00',
      '9',
      '010',
      '9007199254740992',
      '9007199254740993',
    ]);
  });

  it('compares flat versions as numbers', () => {
    const versions = ['10', '9', '0002', '20240101120000', '100', '1'];
    expect([...versions].sort(compareFlatVersions)).toEqual([
      '1',
      '0002',
      '9',
      '10',
      '100',
      '20240101120000',
    ]);
  });

  it('orders prisma folders by name as bytes, as Prisma’s engine does', () => {
    const names = [
      '20210316000000_next_day',
      '20210315_date_only',
      '202103151200_minutes',
      '20210315093000_seconds',
      '0_init',
      '01_first',
      '20210315093000_Upper',
    ];
    expect([...names].sort(comparePrismaNames)).toEqual([
      '01_first',
      '0_init',
      '20210315093000_Upper',
      '20210315093000_seconds',
      '202103151200_minutes',
      '20210315_date_only',
      '20210316000000_next_day',
    ]);
  });

  it('orders by UTF-8 bytes where UTF-16 differs: a character above U+FFFF after U+E000..U+FFFF', () => {
    const names = ['1_\u{1F600}', '1_\uFF01', '1_\u00E9', '1_z', '1_\uD7FF'];
    const bytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
    expect([...names].sort(comparePrismaNames)).toEqual([...names].sort(bytes));
    expect([...names].sort(comparePrismaNames)).toEqual([
      '1_z',
      '1_\u00E9',
      '1_\uD7FF',
      '1_\uFF01',
      '1_\u{1F600}',
    ]);
  });
});

describe('readMigrations: flat', () => {
  it('reads versions, names with spaces, dashes and dots, and golang-migrate up files', () => {
    const dir = directory({
      '10_ten.sql': 'SELECT 10;',
      '9_add users.sql': 'SELECT 9;',
      '2_add-orgs.v2.sql': 'SELECT 2;',
      '3_golang.up.sql': 'SELECT 3;',
      '3_golang.down.sql': 'SELECT -3;',
      'README.md': 'not sql',
      'notes.sql': 'SELECT 0;',
    });
    const set = readMigrations(dir);
    expect(set.layout).toBe('flat');
    expect(set.files.map((f) => [f.id, f.name])).toEqual([
      ['2', '2_add-orgs.v2.sql'],
      ['3', '3_golang.up.sql'],
      ['9', '9_add users.sql'],
      ['10', '10_ten.sql'],
    ]);
    expect(set.warnings).toEqual([expect.stringContaining('notes.sql skipped')]);
  });

  it('reports duplicate versions together, as a configuration error', () => {
    const dir = directory({ '1_a.sql': '', '01_b.sql': '', '2_c.sql': '', '002_d.sql': '' });
    expect(() => readMigrations(dir)).toThrow(/duplicate migration version 1[\s\S]*version 2/);
  });
});

describe('readMigrations: prisma', () => {
  it('detects the layout, keeps names as folders, skips folders without migration.sql', () => {
    const dir = directory({
      'migration_lock.toml': 'provider = "postgresql"\n',
      '20210101000000_init/migration.sql': 'CREATE TABLE a (id int);\n',
      '20210102000000_fix.sql/migration.sql': 'SELECT 1;\n',
      '20210103000000_add user profiles/migration.sql': 'SELECT 2;\n',
      '20210104000000_aborted/README.md': 'no sql here',
    });
    const set = readMigrations(dir);
    expect(set.layout).toBe('prisma');
    expect(set.files.map((f) => f.name)).toEqual([
      '20210101000000_init',
      '20210102000000_fix.sql',
      '20210103000000_add user profiles',
    ]);
    expect(set.files[1]?.relativePath).toBe(path.join('20210102000000_fix.sql', 'migration.sql'));
    expect(set.warnings).toEqual(['20210104000000_aborted/ skipped: it has no migration.sql']);
  });

  it('detects prisma from a migration folder even without migration_lock.toml', () => {
    const dir = directory({ '0_init/migration.sql': 'SELECT 1;' });
    expect(readMigrations(dir).layout).toBe('prisma');
  });

  it('refuses a directory that mixes both layouts', () => {
    const dir = directory({ '0_init/migration.sql': 'SELECT 1;', '0002_flat.sql': 'SELECT 2;' });
    expect(() => readMigrations(dir)).toThrow(/mixes both layouts/);
  });
});

describe('migration bodies', () => {
  it('runs a plain file whole, with the byte-order mark blanked', () => {
    expect(migrationBody('\uFEFFSELECT 1;')).toEqual({
      sql: ' SELECT 1;',
      noTransaction: false,
      tool: undefined,
    });
    expect(migrationBody('SELECT 1;').sql).toBe('SELECT 1;');
  });

  it.each([
    [
      'dbmate',
      false,
      '-- migrate:up\nCREATE TABLE a (id int);\n\n-- migrate:down\nDROP TABLE a;\n',
    ],
    [
      'dbmate',
      true,
      '-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON a (id);\n-- migrate:down\nDROP INDEX i;\n',
    ],
    ['goose', false, '-- +goose Up\nCREATE TABLE a (id int);\n-- +goose Down\nDROP TABLE a;\n'],
    [
      'goose',
      true,
      '-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY i ON a (id);\n-- +goose Down\nDROP INDEX i;\n',
    ],
    ['sql-migrate', true, '-- +migrate Up notransaction\nVACUUM;\n-- +migrate Down\nSELECT 1;\n'],
  ])('runs only the up part of a %s file (no transaction: %s)', (tool, noTransaction, sql) => {
    const body = migrationBody(sql);
    expect(body.tool).toBe(tool);
    expect(body.noTransaction).toBe(noTransaction);
    expect(body.sql).not.toMatch(/DROP|SELECT 1/);
    // Offsets are kept: the up part is where it is in the file, the rest is blank.
    const marker = /^-- (migrate:up|\+goose Up|\+migrate Up)[^\n]*\n/m.exec(sql);
    const up = (marker?.index ?? 0) + (marker?.[0].length ?? 0);
    expect(body.sql.slice(up)).toBe(sql.slice(up, body.sql.length));
    expect(body.sql.slice(0, up).trim()).toBe('');
    expect(body.sql.slice(0, up)).toHaveLength(up);
  });

  it('keeps line numbers with CRLF line endings', () => {
    const sql = '-- migrate:up\r\nCREATE TABLE a (id int);\r\n-- migrate:down\r\nDROP TABLE a;\r\n';
    const body = migrationBody(sql);
    expect(body.sql).toBe('             \r\nCREATE TABLE a (id int);\r\n');
  });

  it('reads the no-transaction marker of preflight itself', () => {
    const dir = directory({ '1_a.sql': '-- preflight:no-transaction\nSELECT 1;\n' });
    expect(readMigrations(dir).files[0]?.noTransaction).toBe(true);
  });
});

describe('migration_lock.toml', () => {
  it('refuses a prisma history written for another database', () => {
    const dir = directory({
      'migration_lock.toml': '# Please do not edit this file manually\nprovider = "mysql"\n',
      '0_init/migration.sql': 'CREATE TABLE a (id int);',
    });
    expect(() => readMigrations(dir)).toThrow(/provider = "mysql"/);
  });

  it('accepts postgresql and a lock file without a provider line', () => {
    const ok = directory({
      'migration_lock.toml': 'provider = "postgresql"\n',
      '0_init/migration.sql': '',
    });
    expect(readMigrations(ok).files).toHaveLength(1);
    const bare = directory({ 'migration_lock.toml': '# empty\n', '0_init/migration.sql': '' });
    expect(readMigrations(bare).files).toHaveLength(1);
  });
});

describe('listing, then reading', () => {
  it('lists names, order and layout without reading the files, then reads them the same way', () => {
    const dir = directory({
      '0002_b.sql': 'select 2;',
      '0010_c.sql': 'select 10;',
      '0001_a.sql': 'select 1;',
      'notes.txt': 'not a migration',
    });
    const listing = listMigrations(dir);
    expect(listing.layout).toBe('flat');
    expect(listing.migrations.map((m) => m.name)).toEqual([
      '0001_a.sql',
      '0002_b.sql',
      '0010_c.sql',
    ]);
    expect(readListedMigrations(listing)).toEqual(readMigrations(dir));
  });

  it('finds name problems when listing, content problems only when reading', () => {
    const dir = directory({ '0001_a.sql': 'select 1;' });
    writeFileSync(path.join(dir, '0002_latin1.sql'), Buffer.from([0x2d, 0x2d, 0x20, 0xe9, 0x0a]));
    const listing = listMigrations(dir);
    expect(listing.migrations).toHaveLength(2);
    expect(() => readListedMigrations(listing)).toThrow(/0002_latin1\.sql is not valid UTF-8/);

    const duplicate = directory({ '1_a.sql': 'select 1;', '01_b.sql': 'select 1;' });
    expect(() => listMigrations(duplicate)).toThrow(/duplicate migration version 1/);
  });
});
