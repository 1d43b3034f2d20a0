import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { sha256 } from '../../src/migrations/checksum.js';
import { ConfigError } from '../../src/errors.js';
import {
  formatExpectedSchema,
  readExpectedSource,
  type ReadSizes,
} from '../../src/schema/expected-file.js';
import { FileWindow } from '../../src/schema/read-whole.js';
import { tableText } from '../../src/schema/table-digest.js';
import {
  findTables,
  scanTables,
  withoutSlices,
  type FoundTables,
  type TableSlice,
} from '../../src/schema/table-slices.js';
import type { ExpectedSchema, TableExpectation } from '../../src/schema/types.js';

const USERS: TableExpectation = {
  kind: 'table',
  partitionKey: null,
  partitionOf: null,
  partitionBound: null,
  rls: true,
  rlsForced: false,
  columns: {
    id: { type: 'integer', nullable: false, default: null, identity: 'always', generated: null },
    'we"ird\nname': {
      type: 'text',
      nullable: true,
      default: "'}'",
      identity: null,
      generated: null,
    },
  },
  indexes: { users_pkey: { definition: 'CREATE UNIQUE INDEX users_pkey ...', valid: true } },
  constraints: {
    users_pkey: {
      type: 'primary key',
      definition: 'PRIMARY KEY (id)',
      deferrable: false,
      deferred: false,
      validated: true,
    },
  },
  triggers: {},
  policies: {
    mine: { command: 'all', permissive: true, roles: ['a', 'b'], using: 'true', withCheck: null },
  },
};

const FILE: ExpectedSchema = {
  version: 1,
  exhaustive: true,
  schemas: ['public'],
  tables: {
    'public.users': USERS,
    'public.empty': {},
    'public.ünïcødé "✓"': {
      ...USERS,
      triggers: { t: { definition: 'CREATE ...', enabled: true } },
    },
  },
  functions: {},
  assertions: [{ name: 'one', sql: 'SELECT 1' }],
};

const bytesOf = (schema: ExpectedSchema): Buffer => Buffer.from(formatExpectedSchema(schema));

describe('the tables of a file found in its bytes', () => {
  it('are each table as the file writes it: its text, digest and counts, in file order', () => {
    const bytes = bytesOf(FILE);
    const slices = findTables(bytes)?.slices ?? [];
    expect(slices.map((s) => s.name)).toEqual(Object.keys(FILE.tables ?? {}).sort());
    for (const slice of slices) {
      const table = (FILE.tables as Record<string, TableExpectation>)[slice.name] ?? {};
      const text = bytes.toString('utf8', slice.start, slice.end);
      expect(text).toBe(tableText(table));
      expect(slice.digest).toBe(sha256(text));
    }
    // columns, constraints, indexes, policies, triggers
    expect(slices.map((s) => [s.name, s.counts])).toEqual([
      ['public.empty', [0, 0, 0, 0, 0]],
      ['public.users', [2, 1, 1, 1, 0]],
      ['public.ünïcødé "✓"', [2, 1, 1, 1, 1]],
    ]);
  });

  it('are none for a file without tables, or with an empty list', () => {
    expect(findTables(bytesOf({ version: 1, functions: {} }))?.slices).toBeUndefined();
    expect(findTables(bytesOf({ version: 1, tables: {} }))?.slices).toEqual([]);
  });

  it.each<[string, string]>([
    ['compact JSON', JSON.stringify(FILE)],
    ['another indentation', JSON.stringify(FILE, null, 4)],
    ['tabs', JSON.stringify(FILE, null, '\t')],
    ['a table cut short', formatExpectedSchema(FILE).slice(0, 400)],
    [
      'a table on one line',
      formatExpectedSchema(FILE).replace(
        '"public.empty": {}',
        '"public.empty": { "kind": "table" }',
      ),
    ],
    [
      'a table indented deeper, between two tables',
      formatExpectedSchema(FILE).replace(
        '\n    "public.users": {',
        '\n      "public.ghost": {},\n    "public.users": {',
      ),
    ],
    [
      'a line of a table after its closing brace',
      formatExpectedSchema(FILE).replace(
        '"public.empty": {},',
        '"public.empty": {},\n      "kind": "table",',
      ),
    ],
    [
      'no comma between two tables',
      formatExpectedSchema(FILE).replace('"public.empty": {},', '"public.empty": {}'),
    ],
    [
      'a comma after the last table',
      formatExpectedSchema({ version: 1, tables: { 'public.empty': {} } }).replace(
        '"public.empty": {}',
        '"public.empty": {},',
      ),
    ],
  ])('are not found in %s (the file is parsed whole)', (_name, text) => {
    expect(findTables(Buffer.from(text))?.slices).toBeUndefined();
  });

  it('leave out a name written twice: only a parse knows which one counts', () => {
    const text = formatExpectedSchema(FILE).replace(
      '\n    "public.users": {',
      '\n    "public.users": {},\n    "public.users": {',
    );
    expect(findTables(Buffer.from(text))?.slices?.map((s) => s.name)).toEqual([
      'public.empty',
      'public.ünïcødé "✓"',
    ]);
  });

  it('are found the same through a window of any size, every byte of the file read once', () => {
    // Lines and tables cut by the window's end, lines longer than the window, `tables` opening
    // past the first window, a tail read to the end.
    const text = formatExpectedSchema({
      $schema: 'x'.repeat(3000),
      ...FILE,
      tables: {
        ...FILE.tables,
        'public.long': {
          ...USERS,
          columns: { ['c'.repeat(5000)]: { type: 'integer', nullable: false } },
        },
      },
      functions: { 'public.f()': { kind: 'function', definition: 'y'.repeat(4000) } as never },
    });
    const directory = mkdtempSync(path.join(tmpdir(), 'preflight-window-'));
    const file = path.join(directory, 'e.json');
    writeFileSync(file, text);
    const bytes = Buffer.from(text);
    const whole = findTables(bytes);
    expect(whole?.slices.map((s) => s.name)).toContain('public.long');
    expect(whole?.head.toString()).toBe(text.slice(0, text.indexOf('"tables": {') + 11));
    expect(Buffer.concat([whole?.head ?? Buffer.alloc(0), whole?.tail ?? Buffer.alloc(0)])).toEqual(
      Buffer.concat([bytes.subarray(0, whole?.from), bytes.subarray(whole?.to)]),
    );
    const plain = (found: FoundTables | undefined) =>
      found && { ...found, head: found.head.toString(), tail: found.tail.toString() };
    for (const size of [1, 7, 64, 100, 4096, 1 << 20]) {
      const hash = createHash('sha256');
      const window = new FileWindow(file, Buffer.alloc(size), hash);
      const found = scanTables(window);
      window.close();
      expect([size, plain(found)]).toEqual([size, plain(whole)]);
      expect(hash.digest('hex')).toBe(sha256(bytes));
    }
  });

  it('are not found through a window where they are not found whole', () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'preflight-window-'));
    const texts = [
      formatExpectedSchema({ version: 1, functions: {} }),
      formatExpectedSchema(FILE).replace('"public.empty": {},', '"public.empty": {}'),
      formatExpectedSchema(FILE).slice(0, 400),
    ];
    texts.forEach((text, at) => {
      const file = path.join(directory, `e${at}.json`);
      writeFileSync(file, text);
      for (const size of [1, 64, 1 << 20]) {
        const window = new FileWindow(file, Buffer.alloc(size), createHash('sha256'));
        expect(scanTables(window)).toBeUndefined();
        window.close();
      }
    });
  });

  it('leave the rest of the file when taken out', () => {
    const bytes = bytesOf(FILE);
    const slices = findTables(bytes)?.slices ?? [];
    const rest = withoutSlices(bytes, slices, Buffer.from('0'));
    expect(JSON.parse(rest.toString()).tables).toEqual({
      'public.empty': 0,
      'public.users': 0,
      'public.ünïcødé "✓"': 0,
    });
  });
});

// A file held whole, and one read through a window (as a large file is) cut in many places.
describe.each<[string, ReadSizes]>([
  ['held whole', {}],
  ['read through a window of 64 bytes', { wholeUpTo: 0, window: 64 }],
])('a file parsed without the tables the digests vouch for, %s', (_how, sizes) => {
  const directory = mkdtempSync(path.join(tmpdir(), 'preflight-slices-'));
  let n = 0;
  const sourceOf = (text: string) => {
    const file = path.join(directory, `e${++n}.json`);
    writeFileSync(file, text);
    return readExpectedSource(file, undefined, sizes);
  };
  const named = (slices: readonly TableSlice[], ...names: string[]): TableSlice[] =>
    slices.filter((s) => names.includes(s.name));

  it('is the file without those tables, everything else parsed and validated', async () => {
    const source = await sourceOf(formatExpectedSchema(FILE));
    const slices = source.tableSlices?.() ?? [];
    const rest = source.schemaWithout?.(named(slices, 'public.users', 'public.empty'));
    expect(rest).toEqual({
      ...FILE,
      tables: { 'public.ünïcødé "✓"': FILE.tables?.['public.ünïcødé "✓"' as never] },
    });
    expect(source.parsed).toBe(false);
    expect(source.schemaWithout?.([])).toEqual(FILE);
  });

  it('is, with every table vouched for, the file without its tables, only the rest parsed', async () => {
    const source = await sourceOf(formatExpectedSchema(FILE));
    const slices = source.tableSlices?.() ?? [];
    const parse = JSON.parse;
    const parsed: string[] = [];
    JSON.parse = (text: string, reviver?: Parameters<typeof parse>[1]): unknown => {
      parsed.push(text);
      return parse(text, reviver);
    };
    let rest: ExpectedSchema | undefined;
    try {
      rest = source.schemaWithout?.(slices);
    } finally {
      JSON.parse = parse;
    }
    expect(rest).toEqual({ ...FILE, tables: {} });
    // One parse, of the file without the content of its `tables`: no table, not even a marker.
    expect(parsed).toHaveLength(1);
    for (const name of Object.keys(FILE.tables ?? {}))
      expect(parsed[0]).not.toContain(JSON.stringify(name));
    expect(source.parsed).toBe(false);
  });

  it('keeps, with every table found vouched for, a name written twice as JSON does (the last)', async () => {
    const text = formatExpectedSchema(FILE).replace(
      '\n    "public.users": {',
      '\n    "public.users": {},\n    "public.users": {',
    );
    const source = await sourceOf(text);
    const slices = source.tableSlices?.() ?? [];
    expect(slices.map((s) => s.name)).not.toContain('public.users');
    expect(source.schemaWithout?.(slices)?.tables).toEqual({ 'public.users': USERS });
  });

  it('is never found for a file with more between its tables than snapshot writes there', async () => {
    // JSON does not care for indentation: the table indented deeper is one of `tables`, and the
    // whole parse (the only one) must see it.
    const text = formatExpectedSchema(FILE).replace(
      '\n    "public.users": {',
      '\n      "public.ghost": { "kind": "table" },\n    "public.users": {',
    );
    const source = await sourceOf(text);
    expect(source.tableSlices?.()).toBeUndefined();
    expect(Object.keys(source.schema().tables ?? {})).toContain('public.ghost');
  });

  it('is not what a later "tables" means: undefined, and the file is then parsed whole', async () => {
    const text = formatExpectedSchema(FILE).replace(
      '\n  "functions": {}',
      '\n  "functions": {},\n  "tables": { "public.users": { "kind": "table" } }',
    );
    const source = await sourceOf(text);
    const slices = source.tableSlices?.() ?? [];
    expect(slices.map((s) => s.name)).toContain('public.users');
    expect(source.schemaWithout?.(named(slices, 'public.users'))).toBeUndefined();
    // With every table vouched for too (the rest then parsed without any of them).
    expect(source.schemaWithout?.(slices)).toBeUndefined();
    expect(source.schema().tables).toEqual({ 'public.users': { kind: 'table' } });
  });

  it('reports broken JSON outside the vouched tables at its line in the whole file', async () => {
    const text = formatExpectedSchema(FILE).replace('"functions": {}', '"functions": {,}');
    const line = text.slice(0, text.indexOf('{,}')).split('\n').length;
    const source = await sourceOf(text);
    const slices = source.tableSlices?.() ?? [];
    expect(() => source.schemaWithout?.(slices)).toThrow(
      new RegExp(`invalid JSON at line ${line}, column 17`),
    );
  });

  it('reports broken JSON in a table the digests could not vouch for as the whole parse does', async () => {
    const text = formatExpectedSchema(FILE).replace('"rls": true', '"rls": tru');
    const whole = await sourceOf(text);
    let expected = '';
    try {
      whole.schema();
    } catch (error) {
      expected = (error as Error).message;
    }
    expect(expected).toMatch(/invalid JSON/);
    const source = await readExpectedSource(whole.path, undefined, sizes);
    const slices = source.tableSlices?.() ?? [];
    // Its digest is no server's: every table but the broken one is vouched for.
    const broken = slices.find((s) => s.name === 'public.users');
    expect(broken).toBeDefined();
    const vouched = slices.filter((s) => s !== broken);
    expect(() => source.schemaWithout?.(vouched)).toThrow(expected);
  });

  it('reports what the rest of the file gets wrong, as a configuration problem', async () => {
    const text = formatExpectedSchema({
      ...FILE,
      functions: { 'public.f()': { kind: 'nope' } },
    } as never);
    const source = await sourceOf(text);
    const slices = source.tableSlices?.() ?? [];
    let thrown: unknown;
    try {
      source.schemaWithout?.(slices);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect(String((thrown as Error).message)).toMatch(/functions/);
  });
});
