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
  firstTableIn,
  GuidedTables,
  guidedIn,
  scanTables,
  withoutSlices,
  type FoundTables,
  type TableGuide,
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

/**
 * A file whose lines and tables a window cuts: lines longer than a window, `tables` opening past
 * the first window, a long rest after the tables.
 */
const LONG_LINES = formatExpectedSchema({
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

/** What a scan or walk found, its head and tail as text (readable in a failure). */
const plainFound = (found: FoundTables | undefined) =>
  found && { ...found, head: found.head.toString(), tail: found.tail.toString() };

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
    const text = LONG_LINES;
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
    for (const size of [1, 7, 64, 100, 4096, 1 << 20]) {
      const hash = createHash('sha256');
      const window = new FileWindow(file, Buffer.alloc(size), hash);
      const found = scanTables(window);
      window.close();
      expect([size, plainFound(found)]).toEqual([size, plainFound(whole)]);
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
/** The server's texts of a file's tables as a guide to it: each slice's length, digest and counts. */
const guideOf = (found: FoundTables | undefined): TableGuide[] =>
  (found?.slices ?? []).map(({ name, start, end, digest, counts }) => ({
    name,
    length: end - start,
    digest,
    counts,
  }));

/** The tables `walk` finds, the guide taken in stretches cut at `cuts`. */
function walked(
  walk: GuidedTables,
  guide: readonly TableGuide[],
  cuts: readonly number[] = [],
): FoundTables | undefined {
  let from = 0;
  for (const cut of [...cuts, guide.length]) {
    if (!walk.next(guide.slice(from, cut))) return undefined;
    from = cut;
  }
  return walk.end();
}

describe("the tables of a file found by the server's texts of them", () => {
  const text = LONG_LINES;
  const bytes = Buffer.from(text);
  const scanned = findTables(bytes);
  const guide = guideOf(scanned);
  const directory = mkdtempSync(path.join(tmpdir(), 'preflight-guided-'));
  const file = path.join(directory, 'e.json');
  writeFileSync(file, text);

  it('are what the scan finds, in one stretch or in several, held whole or through any window', () => {
    expect(guide.length).toBe(4);
    for (let cut = 0; cut <= guide.length; cut++) {
      expect(plainFound(walked(guidedIn(bytes), guide, [cut]))).toEqual(plainFound(scanned));
    }
    expect(plainFound(walked(guidedIn(bytes), guide, [1, 1, 3]))).toEqual(plainFound(scanned));
    for (const size of [1, 7, 64, 100, 4096, 1 << 20]) {
      for (const cut of [0, 2, guide.length]) {
        const hash = createHash('sha256');
        const window = new FileWindow(file, Buffer.alloc(size), hash);
        const found = walked(new GuidedTables(window), guide, [cut]);
        window.close();
        expect([size, cut, plainFound(found)]).toEqual([size, cut, plainFound(scanned)]);
        // Every byte of the file read once, to its end.
        expect(hash.digest('hex')).toBe(sha256(bytes));
      }
    }
  });

  it('are none for a file whose tables are an empty list, and for an empty guide only then', () => {
    const empty = Buffer.from(formatExpectedSchema({ ...FILE, tables: {} }));
    expect(plainFound(walked(guidedIn(empty), []))).toEqual(plainFound(findTables(empty)));
    expect(walked(guidedIn(bytes), [])).toBeUndefined();
    expect(walked(guidedIn(empty), guide.slice(0, 1))).toBeUndefined();
  });

  it('are not found where the file is not what the guide says', () => {
    const [first, second, third, fourth] = guide as [
      TableGuide,
      TableGuide,
      TableGuide,
      TableGuide,
    ];
    const other = '0'.repeat(64);
    const wrong: readonly (readonly [string, TableGuide[]])[] = [
      ['another digest', [first, { ...second, digest: other }, third, fourth]],
      ['another length', [first, { ...second, length: second.length + 1 }, third, fourth]],
      ['a shorter length', [first, { ...second, length: second.length - 1 }, third, fourth]],
      [
        'a table the file does not have',
        [first, second, { ...third, name: 'public.new' }, third, fourth],
      ],
      ['a table the file has left out', [first, third, fourth]],
      ['the last table left out', [first, second, third]],
      ['another order', [second, first, third, fourth]],
      ['a name given twice', [first, second, second, third, fourth]],
      ['another name', [{ ...first, name: `${first.name} ` }, second, third, fourth]],
    ];
    for (const [what, tables] of wrong) {
      expect([what, walked(guidedIn(bytes), tables)]).toEqual([what, undefined]);
      expect([what, walked(guidedIn(bytes), tables, [2])]).toEqual([what, undefined]);
    }
    // A name given twice, where the file has it twice too: only a parse knows which one counts.
    const twice = text.replace(
      '"public.empty": {},',
      '"public.empty": {},\n    "public.empty": {},',
    );
    expect(first.name).toBe('public.empty');
    expect(
      walked(guidedIn(Buffer.from(twice)), [first, first, second, third, fourth]),
    ).toBeUndefined();
    // A stretch refused ends the walk: nothing later is taken.
    const walk = guidedIn(bytes);
    expect(walk.next([second])).toBe(false);
    expect(walk.next(guide)).toBe(false);
    expect(walk.end()).toBeUndefined();
  });

  it('are not found in a file laid out otherwise, though every table is the same', () => {
    const layouts = [
      // A comma left out between two tables (JSON.parse would refuse it; the scan refuses it too).
      text.replace('"public.empty": {},', '"public.empty": {}'),
      // A space before a comma, a blank line between tables, the closing line indented.
      text.replace('"public.empty": {},', '"public.empty": {} ,'),
      text.replace('"public.empty": {},', '"public.empty": {};'),
      text.replace('"public.empty": {},\n', '"public.empty": {},\n\n'),
      text.replace(/\n {4}}\n {2}},/, '\n    }\n   },'),
      // No `tables` line at all.
      formatExpectedSchema({ version: 1, functions: {} }),
      text.slice(0, 400),
    ];
    for (const layout of layouts) {
      expect(layout).not.toBe(text);
      expect(walked(guidedIn(Buffer.from(layout)), guide)).toBeUndefined();
    }
  });

  it('name the first table whose key line starts in a piece of the file, wherever it was cut', () => {
    const names = guide.map(({ name }) => name);
    for (const slice of scanned?.slices ?? []) {
      // From inside the table before: the next table's key line (after the last table, the next
      // key at that depth is a function's: only a guess of where the tables are).
      const next = names[names.indexOf(slice.name) + 1] ?? 'public.f()';
      expect(firstTableIn(bytes.subarray(slice.start + 1))).toBe(next);
    }
    // From anywhere before a key line's break: that table.
    const at = text.indexOf('\n    "public.users": {');
    expect(firstTableIn(bytes.subarray(at))).toBe('public.users');
    expect(firstTableIn(bytes.subarray(at + 1))).not.toBe('public.users');
    // Quoted and escaped names as JSON reads them.
    const escaped = text.indexOf('\n    "public.ünïcødé \\"✓\\"": {');
    expect(escaped).toBeGreaterThan(-1);
    expect(firstTableIn(bytes.subarray(escaped))).toBe('public.ünïcødé "✓"');
    // None: a piece past the tables, or one with no whole key line.
    expect(firstTableIn(bytes.subarray(scanned?.to ?? 0))).not.toBe(names[0]);
    expect(firstTableIn(Buffer.from('{\n  "version": 1\n}\n'))).toBeUndefined();
    expect(firstTableIn(Buffer.from('\n    "public.cut'))).toBeUndefined();
    expect(firstTableIn(Buffer.from('\n    "public.a": 1,'))).toBeUndefined();
    // Past a list's string and a key of another value at that depth.
    expect(firstTableIn(Buffer.from('\n    "app"\n  ],\n    "x": 1,\n    "app.t": {'))).toBe(
      'app.t',
    );
  });
});

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
