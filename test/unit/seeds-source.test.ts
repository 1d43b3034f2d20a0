import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { parseJsonText } from '../../src/seeds/json-text.js';
import { readSeeds } from '../../src/seeds/source.js';

const roots: string[] = [];

/** A fresh `seeds` directory holding the given files. */
function seedsDir(files: Record<string, string | Buffer>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'pf-seeds-'));
  roots.push(root);
  const dir = path.join(root, 'seeds');
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  return dir;
}

afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** The problems readSeeds reports for the files, or [] when it accepts them. */
function problemsOf(files: Record<string, string | Buffer>): readonly string[] {
  try {
    readSeeds(seedsDir(files));
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

const seed = (fields: Record<string, unknown>): string =>
  JSON.stringify({
    table: 'team_roles',
    key: ['name'],
    mode: 'insert-missing',
    rows: [],
    ...fields,
  });

describe('readSeeds: bad inputs', () => {
  const cases: [string, string | Buffer, string[]][] = [
    [
      'trailing comma',
      '{\n  "table": "t",\n  "key": ["a"],\n}',
      ["seeds/bad.json:4:1: malformed JSON: trailing comma before '}'"],
    ],
    [
      'missing comma',
      '{\n  "table": "t"\n  "key": ["a"]\n}',
      [
        `seeds/bad.json:3:3: malformed JSON: expected ',' or '}' after a property value, found "\\""`,
      ],
    ],
    [
      'unterminated string',
      '{"table": "t',
      ['seeds/bad.json:1:11: malformed JSON: unterminated string'],
    ],
    [
      'empty file',
      '',
      ['seeds/bad.json:1:1: malformed JSON: expected a value, found the end of the file'],
    ],
    [
      'bare word',
      '{"mode": upsert}',
      ['seeds/bad.json:1:10: malformed JSON: expected a value, found "u"'],
    ],
    [
      'property given twice',
      '{"table": "a",\n "table": "b"}',
      ['seeds/bad.json:2:2: malformed JSON: property "table" is given twice'],
    ],
    [
      'text after the value',
      '{}\n{}',
      ['seeds/bad.json:2:1: malformed JSON: unexpected "{" after the JSON value'],
    ],
    [
      'not an object',
      '[]',
      ['seeds/bad.json: expected an object with "table", "key", "mode" and "rows", got an array'],
    ],
    [
      'everything missing',
      '{}',
      [
        'seeds/bad.json: "table" is required: the table to write, e.g. "team_roles" or "billing.plans"',
        'seeds/bad.json: "key" is required: the columns that identify a row, e.g. ["name"]',
        'seeds/bad.json: "mode" is required: "insert-missing" (add absent rows) or "upsert" (also rewrite them)',
        'seeds/bad.json: "rows" is required: an array of objects, one per row (it may be empty)',
      ],
    ],
    [
      'unknown property',
      seed({ tabel: 'x' }),
      ['seeds/bad.json: unknown property "tabel": expected "table", "key", "mode" and "rows"'],
    ],
    [
      'table of the wrong type',
      seed({ table: 42 }),
      ['seeds/bad.json: "table" must be a string, got 42'],
    ],
    [
      'table with two dots',
      seed({ table: 'a.b.c' }),
      ['seeds/bad.json: "table" must be "table" or "schema.table", got "a.b.c"'],
    ],
    [
      'key not an array',
      seed({ key: 'name' }),
      ['seeds/bad.json: "key" must be an array of column names, got "name"'],
    ],
    ['empty key', seed({ key: [] }), ['seeds/bad.json: "key" must name at least one column']],
    [
      'key of the wrong type',
      seed({ key: ['name', 1, ''] }),
      [
        'seeds/bad.json: "key"[1] must be a column name, got 1',
        'seeds/bad.json: "key"[2] must be a column name, got ""',
      ],
    ],
    [
      'key column twice',
      seed({ key: ['a', 'a'] }),
      ['seeds/bad.json: "key" names column "a" twice'],
    ],
    [
      'unknown mode',
      seed({ mode: 'merge' }),
      ['seeds/bad.json: "mode" must be "insert-missing" or "upsert", got "merge"'],
    ],
    [
      'rows not an array',
      seed({ rows: { name: 'Owner' } }),
      ['seeds/bad.json: "rows" must be an array of objects, got {"name":"Owner"}'],
    ],
    [
      'row not an object',
      seed({ rows: [{ name: 'Owner' }, 'Viewer', null] }),
      [
        'seeds/bad.json: rows[1] must be an object of column values, got "Viewer"',
        'seeds/bad.json: rows[2] must be an object of column values, got null',
      ],
    ],
    [
      'row lacking a key column',
      seed({ key: ['customer_id', 'name'], rows: [{ customer_id: 1, name: 'a' }, { name: 'b' }] }),
      ['seeds/bad.json: rows[1] lacks key column "customer_id"'],
    ],
    [
      'null key value',
      seed({ rows: [{ name: null, description: 'x' }] }),
      ['seeds/bad.json: rows[0] has a null key column "name": key values must not be null'],
    ],
    [
      'the same key twice',
      seed({ rows: [{ name: 'Owner' }, { name: 'Viewer' }, { name: 'Owner', description: 'x' }] }),
      ['seeds/bad.json: rows[2] repeats the key of rows[0] (name=Owner)'],
    ],
    [
      'integer beyond 2^53',
      '{"table": "t", "key": ["id"], "mode": "upsert", "rows": [{"id": 9007199254740993}]}',
      [
        'seeds/bad.json: rows[0].id: 9007199254740992 is beyond 2^53 and loses precision as a JSON number: write it as a string',
      ],
    ],
    [
      'description of the wrong type',
      seed({ description: ['x'] }),
      ['seeds/bad.json: "description" must be a string, got ["x"]'],
    ],
    [
      'not UTF-8',
      Buffer.from([0x7b, 0x22, 0xe9, 0x22, 0x7d]),
      ['seeds/bad.json is not valid UTF-8: save it as UTF-8'],
    ],
  ];

  it.each(cases)('%s', (_name, content, expected) => {
    expect(problemsOf({ 'bad.json': content })).toEqual(expected);
  });

  it('rejects SQL seeds that would break the one seed transaction', () => {
    expect(
      problemsOf({
        'a.sql': 'INSERT INTO t VALUES (1);\nCOMMIT;\n',
        'b.sql': '-- index\n  CREATE INDEX CONCURRENTLY i ON t (a);',
        'c.sql': Buffer.from([0x53, 0x45, 0xff]),
      }),
    ).toEqual([
      'seeds/a.sql:2:1: COMMIT is not allowed in a seed: all seeds run in one transaction that preflight opens and commits; remove it',
      'seeds/b.sql:2:3: CREATE INDEX CONCURRENTLY cannot run inside the seed transaction: move it to a migration',
      'seeds/c.sql is not valid UTF-8: save it as UTF-8',
    ]);
  });

  it('collects the problems of every file into one ConfigError with exit code 2', () => {
    const dir = seedsDir({ 'a.json': '{', 'b.json': seed({ mode: 'x' }), 'c.json': seed({}) });
    let thrown: unknown;
    try {
      readSeeds(dir);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).exitCode).toBe(2);
    expect((thrown as ConfigError).problems).toEqual([
      'seeds/a.json:1:2: malformed JSON: expected a property name in double quotes, found the end of the file',
      'seeds/b.json: "mode" must be "insert-missing" or "upsert", got "x"',
    ]);
  });

  it('reports an unreadable directory as a ConfigError', () => {
    expect(() => readSeeds(path.join(tmpdir(), 'pf-no-such-seeds-dir'))).toThrow(
      /seeds directory .*pf-no-such-seeds-dir cannot be read: ENOENT/,
    );
  });
});

describe('readSeeds: good inputs', () => {
  it('reads *.sql and *.json in file-name order as plain text, ignoring other files', () => {
    const dir = seedsDir({
      'README.md': '# not a seed',
      '9_b.sql': 'SELECT 1;',
      '10_a.json': seed({}),
      'notes.txt': 'x',
      '020_c.json': seed({
        table: 'billing.plans',
        key: ['code'],
        mode: 'upsert',
        rows: [{ code: 'pro' }],
      }),
    });
    mkdirSync(path.join(dir, 'sub.json'));
    const seeds = readSeeds(dir);
    expect(seeds.map((s) => s.name)).toEqual(['020_c.json', '10_a.json', '9_b.sql']);
    expect(seeds[0]).toEqual({
      kind: 'rows',
      name: '020_c.json',
      path: path.join(dir, '020_c.json'),
      table: 'billing.plans',
      key: ['code'],
      mode: 'upsert',
      rows: [{ code: 'pro' }],
    });
    expect(seeds[2]).toEqual({
      kind: 'sql',
      name: '9_b.sql',
      path: path.join(dir, '9_b.sql'),
      sql: 'SELECT 1;',
    });
  });

  it('accepts a byte-order mark, empty rows, $schema, description and JSON values of every kind', () => {
    const json = {
      $schema: 'https://example.com/seed.schema.json',
      description: 'flags',
      table: 'flags',
      key: ['name'],
      mode: 'upsert',
      rows: [{ name: 'a', on: true, n: 1.5, v: null, tags: ['x'], meta: { a: [1] } }],
    };
    const seeds = readSeeds(
      seedsDir({
        'a.json': `\uFEFF${JSON.stringify(json)}`,
        'b.json': seed({}),
        'c.sql': '\uFEFFSELECT 1',
      }),
    );
    expect(seeds[0]).toMatchObject({ table: 'flags', rows: json.rows });
    expect(seeds[1]).toMatchObject({ rows: [] });
    expect(seeds[2]).toMatchObject({ kind: 'sql', sql: '\uFEFFSELECT 1' });
  });

  it('reads the shipped seeds', () => {
    const seeds = readSeeds(path.resolve('seeds'));
    expect(
      seeds.map((s) => [s.name, s.kind === 'rows' ? [s.table, s.mode, s.rows.length] : []]),
    ).toEqual([
      ['010_system_roles.json', ['team_roles', 'insert-missing', 5]],
      ['020_notification_templates.json', ['notification_templates', 'upsert', 5]],
    ]);
  });

  it('follows symbolic links and reports dangling ones', () => {
    const dir = seedsDir({ 'a.json': seed({}) });
    symlinkSync(path.join(dir, 'a.json'), path.join(dir, 'b.json'));
    expect(readSeeds(dir).map((s) => s.name)).toEqual(['a.json', 'b.json']);
    symlinkSync(path.join(dir, 'gone.json'), path.join(dir, 'c.json'));
    expect(() => readSeeds(dir)).toThrow('seeds/c.json is a symbolic link to nothing');
  });
});

describe('parseJsonText', () => {
  it.each([
    [
      '{"a": [1, -2.5e3, true, false, null, "x\\n\\u00e9"]}',
      { a: [1, -2500, true, false, null, 'x\né'] },
    ],
    [' "s" ', 's'],
    ['{"__proto__": 1}', JSON.parse('{"__proto__": 1}') as unknown],
  ])('parses %s as JSON.parse does', (text, value) => {
    expect(parseJsonText(text)).toEqual({ ok: true, value });
  });

  it.each([
    ['01', 'invalid number', 0],
    ['1.', 'invalid number', 0],
    ['"\\x"', 'invalid escape sequence in a string', 1],
    ['"a\tb"', 'control character in a string: write it as an escape such as \\n', 2],
    ['[1,]', "trailing comma before ']'", 3],
    ['{"a" 1}', `expected ':' after property name "a", found "1"`, 5],
  ])('rejects %s', (text, message, offset) => {
    expect(parseJsonText(text)).toEqual({ ok: false, error: { offset, message } });
  });
});
