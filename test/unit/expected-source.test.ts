import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { commandContext } from '../helpers/context.js';
import type { CommandContext } from '../../src/pipeline/context.js';
import { ConfigError } from '../../src/errors.js';
import { loadExpected } from '../../src/pipeline/verify-step.js';
import {
  formatExpectedSchema,
  readAhead,
  readExpectedSource,
  readExpectedSourceIfExists,
  readExpectedSourceNow,
  readExpectedSourceNowIfExists,
  type ExpectedSource,
} from '../../src/schema/expected-file.js';
import { HEAD_BYTES, readStart } from '../../src/schema/read-whole.js';

function file(text: string | Buffer): string {
  const target = path.join(mkdtempSync(path.join(tmpdir(), 'preflight-expected-')), 'e.json');
  writeFileSync(target, text);
  return target;
}

describe('an expected-schema file as read', () => {
  it('is hashed and parsed only when asked, once each', async () => {
    const text = '{ "version": 1, "schemas": ["app", "billing"], "tables": {} }\n';
    const source = await readExpectedSource(file(text));
    const sha256 = createHash('sha256').update(text).digest('hex');
    expect(source.sha256).toBe(sha256);
    expect(source.sha256).toBe(sha256);
    expect(source.parsed).toBe(false);
    const schema = source.schema();
    expect(source.parsed).toBe(true);
    expect(source.schema()).toBe(schema);
    expect(schema.schemas).toEqual(['app', 'billing']);
  });

  it('stops hashing when told to, and hashes from the start when asked again', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 5, 'x');
    const sha256 = createHash('sha256').update(big).digest('hex');
    const source = await readExpectedSource(file(big));
    const stop = new AbortController();
    const stopped = source.hash?.(stop.signal);
    // The first chunk is hashed at once; the next ones wait for turns of the event loop.
    stop.abort();
    expect(await stopped).toBeUndefined();
    expect(await source.hash?.()).toBe(sha256);
    expect(source.sha256).toBe(sha256);
    // Once done, a stop comes too late to matter.
    const done = new AbortController();
    done.abort();
    expect(await source.hash?.(done.signal)).toBe(sha256);
  });

  it('is not hashed when asked with a stop already given, and hashed whole when asked again', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 5, 'y');
    const sha256 = createHash('sha256').update(big).digest('hex');
    const source = await readExpectedSource(file(big));
    const stop = new AbortController();
    stop.abort();
    expect(await source.hash?.(stop.signal)).toBeUndefined();
    // Not the stopped hash again: one from the start.
    expect(await source.hash?.()).toBe(sha256);
  });

  it('is hashed the same a chunk at a time, before or after the hash asked at once', async () => {
    const text = '{ "version": 1, "tables": {} }\n';
    const sha256 = createHash('sha256').update(text).digest('hex');
    const first = await readExpectedSource(file(text));
    expect(await first.hash?.()).toBe(sha256);
    expect(first.sha256).toBe(sha256);
    const second = await readExpectedSource(file(text));
    expect(second.sha256).toBe(sha256);
    expect(await second.hash?.()).toBe(sha256);
  });

  it('reports a broken file only when parsed, as a configuration problem', async () => {
    const source = await readExpectedSource(file('{ "version": 1, "tables": { '));
    expect(source.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(() => source.schema()).toThrow(/invalid JSON at line 1, column \d+/);
    expect(source.parsed).toBe(false);
  });

  it.each<[string, string, string]>([
    ['a misspelt literal', '{\n  "exhaustive": tru,\n  "tables": {}\n}', 'line 2, column 17'],
    ['a trailing comma in a list', '{\n  "schemas": [\n    "public",\n  ]\n}', 'line 4, column 3'],
    ['a stray character', '{\n  "version": 1\n}\nx', 'line 4, column 1'],
    ['an unfinished string', '{\n  "version": "1', 'line 2, column 16'],
    ['an empty file', '', 'line 1, column 1'],
    ['a bad escape', '{ "a": "\\q" }', 'line 1, column 10'],
  ])(
    'says where the JSON breaks for %s, where V8 gives no position too',
    async (_name, text, where) => {
      const source = await readExpectedSource(file(text));
      expect(() => source.schema()).toThrow(`invalid JSON at ${where}: `);
    },
  );

  it.each([
    [
      'near the top, as snapshot writes it',
      '{ "version": 1, "schemas": ["public", "x"] }',
      ['public', 'x'],
    ],
    ['absent', '{ "version": 1, "tables": {} }', undefined],
    ['not a list of names', '{ "schemas": [1, 2] }', undefined],
    ['empty', '{ "schemas": [] }', undefined],
    [
      'beyond the first 64 KiB',
      `{ "tables": { "t": { "columns": ["${'a'.repeat(70_000)}"] } }, "schemas": ["late"] }`,
      undefined,
    ],
  ])('gives a hint of its schemas when %s', async (_name, text, hint) => {
    expect((await readExpectedSource(file(text))).schemasHint()).toEqual(hint);
  });

  it.each([
    [
      'near the top, as snapshot writes it',
      '{ "version": 1, "exhaustive": true, "schemas": [] }',
      true,
    ],
    ['false', '{ "exhaustive": false }', false],
    ['absent', '{ "tables": {} }', false],
    [
      'beyond the first 64 KiB',
      `{ "tables": { "t": ["${'a'.repeat(70_000)}"] }, "exhaustive": true }`,
      false,
    ],
  ])('says whether it is exhaustive when that is %s', async (_name, text, exhaustive) => {
    expect((await readExpectedSource(file(text))).exhaustiveHint()).toBe(exhaustive);
  });

  it('names the file when it cannot be read', async () => {
    await expect(readExpectedSource('/nonexistent/expected.json')).rejects.toThrow(
      /expected-schema file \/nonexistent\/expected.json does not exist/,
    );
  });
});

// run reads the file on its own thread at once (readExpectedSourceNow): the same file, the same
// errors, as the read on the thread pool.
describe('an expected-schema file read at once', () => {
  it('is the same as read on the thread pool: hash, size, hints and schema', async () => {
    const target = file('{ "version": 1, "exhaustive": true, "schemas": ["app"], "tables": {} }\n');
    const later = await readExpectedSource(target);
    const now = readExpectedSourceNow(target);
    expect(now.sha256).toBe(later.sha256);
    expect(now.size).toBe(later.size);
    expect(now.exhaustiveHint()).toBe(true);
    expect(now.schemasHint()).toEqual(['app']);
    expect(now.schema()).toEqual(later.schema());
  });

  it('throws what the read on the thread pool rejects with, and skips only a missing file', async () => {
    expect(() => readExpectedSourceNow('/nonexistent/expected.json')).toThrow(
      /expected-schema file \/nonexistent\/expected.json does not exist/,
    );
    expect(readExpectedSourceNowIfExists('/nonexistent/expected.json')).toBeUndefined();
    expect(await readExpectedSourceIfExists('/nonexistent/expected.json')).toBeUndefined();
    // A directory is there but cannot be read as a file: not skipped.
    const dir = mkdtempSync(path.join(tmpdir(), 'preflight-expected-'));
    expect(() => readExpectedSourceNowIfExists(dir)).toThrow(/cannot be read \(.*EISDIR/);
    await expect(readExpectedSourceIfExists(dir)).rejects.toThrow(/cannot be read \(.*EISDIR/);
  });
});

// The file is read in one read on the thread pool (after an open and a stat), not 512 KiB per
// trip: the bytes must be the file's to the last one, whatever its size.
describe('an expected-schema file read whole', () => {
  it('holds every byte of a file of megabytes, and of an empty one', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024 + 7);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 11)) & 0xff;
    const source = await readExpectedSource(file(big));
    expect(source.size).toBe(big.length);
    expect(source.sha256).toBe(createHash('sha256').update(big).digest('hex'));
    const empty = await readExpectedSource(file(''));
    expect(empty.size).toBe(0);
    expect(empty.sha256).toBe(createHash('sha256').update('').digest('hex'));
  });
});

// A file larger than 1 MiB is not held whole: hashed and its tables found through one buffer,
// read again where needed. Here every file is, through a window of 100 bytes.
describe('an expected-schema file read through a window', () => {
  const WINDOW = { wholeUpTo: 0, window: 100 };
  const text = formatExpectedSchema({
    version: 1,
    exhaustive: true,
    schemas: ['app'],
    tables: {
      'app.a': { kind: 'table', columns: { id: { type: 'integer', nullable: false } } },
      'app.b': { kind: 'table', columns: { ['n'.repeat(300)]: { type: 'text', nullable: true } } },
    },
  } as never);
  const sha256 = createHash('sha256').update(text).digest('hex');
  /** The file's tables as held whole, and the guide the server's texts of them would be. */
  const guided = async (target: string) => {
    const slices = (await readExpectedSource(target)).tableSlices?.() ?? [];
    const guide = slices.map(({ name, start, end, digest, counts }) => ({
      name,
      length: end - start,
      digest,
      counts,
    }));
    return { slices, guide };
  };

  it('is the file held whole: hash, size, hints, tables and schema, read at once or not', async () => {
    const target = file(text);
    const held = await readExpectedSource(target);
    for (const source of [
      await readExpectedSource(target, undefined, WINDOW),
      readExpectedSourceNow(target, WINDOW),
    ]) {
      expect(source.size).toBe(Buffer.byteLength(text));
      expect(source.exhaustiveHint()).toBe(true);
      expect(source.schemasHint()).toEqual(['app']);
      expect(await source.hash?.()).toBe(sha256);
      expect(source.sha256).toBe(sha256);
      expect(source.tableSlices?.()).toEqual(held.tableSlices?.());
      expect(source.schemaWithout?.(source.tableSlices?.() ?? [])).toEqual(
        held.schemaWithout?.(held.tableSlices?.() ?? []),
      );
      expect(source.schema()).toEqual(held.schema());
    }
    // Hashed by the getter too, and with its tables found first.
    const got = await readExpectedSource(target, undefined, WINDOW);
    expect(got.sha256).toBe(sha256);
    const sliced = await readExpectedSource(target, undefined, WINDOW);
    expect(sliced.tableSlices?.()?.length).toBe(2);
    expect(sliced.sha256).toBe(sha256);
  });

  it('written after its hash: a configuration problem when its tables are found, or parsed', async () => {
    const target = file(text);
    const written = text.replace('"integer"', '"bigint" ');
    const sliced = await readExpectedSource(target, undefined, WINDOW);
    expect(await sliced.hash?.()).toBe(sha256);
    const parsed = await readExpectedSource(target, undefined, WINDOW);
    expect(parsed.sha256).toBe(sha256);
    writeFileSync(target, written);
    expect(() => sliced.tableSlices?.()).toThrow(ConfigError);
    expect(() => sliced.tableSlices?.()).toThrow(/changed while it was being read/);
    expect(() => parsed.schema()).toThrow(/changed while it was being read/);
    // Not hashed before: the file as it is now.
    const later = await readExpectedSource(target, undefined, WINDOW);
    expect(later.tableSlices?.()?.length).toBe(2);
    expect(later.schema().tables).toEqual(JSON.parse(written).tables);
  });

  it('written after its tables were found: a configuration problem when read again for a drift', async () => {
    const target = file(text);
    const source = await readExpectedSource(target, undefined, WINDOW);
    const slices = source.tableSlices?.() ?? [];
    writeFileSync(target, text.replace('"integer"', '"bigint" '));
    // Every table vouched for: what was read with them.
    expect(source.schemaWithout?.(slices)?.schemas).toEqual(['app']);
    // One not: the file is read again, and is not the file whose tables were found.
    expect(() => source.schemaWithout?.(slices.slice(1))).toThrow(
      /changed while it was being read/,
    );
  });

  it("has its tables found by the server's texts of them, as held whole, and only once", async () => {
    const target = file(text);
    const { slices, guide } = await guided(target);
    for (const cut of [0, 1, 2]) {
      const source = await readExpectedSource(target, undefined, WINDOW);
      expect(await source.hash?.()).toBe(sha256);
      const walk = source.guideSlices?.();
      expect(walk?.next(guide.slice(0, cut))).toBe(true);
      expect(walk?.next(guide.slice(cut))).toBe(true);
      expect(walk?.end()).toEqual(slices);
      walk?.close();
      // Found: tableSlices returns them without a read, and no walk starts again.
      rmSync(target);
      expect(source.tableSlices?.()).toEqual(slices);
      expect(source.guideSlices?.()).toBeUndefined();
      writeFileSync(target, text);
    }
    // Not what the file is: nothing found, and tableSlices scans the file.
    const source = await readExpectedSource(target, undefined, WINDOW);
    const walk = source.guideSlices?.();
    expect(walk?.next(guide.slice(1))).toBe(false);
    expect(walk?.end()).toBeUndefined();
    walk?.close();
    expect(source.tableSlices?.()).toEqual(slices);
  });

  it("found by the server's texts before any hash, unkeyed: later reads are checked against the tables found", async () => {
    const target = file(text);
    const { slices, guide } = await guided(target);
    const walked = async (): Promise<ExpectedSource> => {
      const source = await readExpectedSource(target, undefined, WINDOW);
      const walk = source.guideSlices?.(false);
      expect(walk?.next(guide)).toBe(true);
      expect(walk?.end()).toEqual(slices);
      walk?.close();
      return source;
    };
    // Keyed (the default): hashed on the way, its key known without another read.
    const keyed = await readExpectedSource(target, undefined, WINDOW);
    const keyedWalk = keyed.guideSlices?.();
    expect(keyedWalk?.next(guide)).toBe(true);
    expect(keyedWalk?.end()).toEqual(slices);
    keyedWalk?.close();
    rmSync(target);
    expect(keyed.sha256).toBe(sha256);
    writeFileSync(target, text);
    // Unkeyed: nothing hashed on the way, so the key needs a read of its own.
    const unkeyed = await walked();
    rmSync(target);
    expect(() => unkeyed.sha256).toThrow(/does not exist/);
    writeFileSync(target, text);
    // The same file: read again for a drift, and hashed, as it is.
    const same = await walked();
    expect(Object.keys(same.schemaWithout?.(slices.slice(1))?.tables ?? {})).toEqual(['app.a']);
    expect(same.sha256).toBe(sha256);
    const hashedLater = await walked();
    expect(hashedLater.sha256).toBe(sha256);
    expect(await (await walked()).hash?.()).toBe(sha256);
    // Written after the walk, in a table or after the tables: no later read takes it.
    for (const written of [
      text.replace('"integer"', '"bigint" '),
      text.replace('"schemas"', '"schemaz"'),
    ]) {
      const drift = await walked();
      const key = await walked();
      const hashed = await walked();
      writeFileSync(target, written);
      expect(() => drift.schemaWithout?.(slices.slice(1))).toThrow(
        /changed while it was being read/,
      );
      expect(() => key.sha256).toThrow(ConfigError);
      await expect(hashed.hash?.()).rejects.toThrow(/changed while it was being read/);
      writeFileSync(target, text);
    }
    // Hashed on its own while the walk went on: read again at the walk's end, and checked.
    for (const written of [text, text.replace('"integer"', '"bigint" ')]) {
      const source = await readExpectedSource(target, undefined, WINDOW);
      const walk = source.guideSlices?.(false);
      expect(walk?.next(guide)).toBe(true);
      expect(await source.hash?.()).toBe(sha256);
      writeFileSync(target, written);
      if (written === text) expect(walk?.end()).toEqual(slices);
      else expect(() => walk?.end()).toThrow(/changed while it was being read/);
      walk?.close();
      writeFileSync(target, text);
    }
  });

  it("written after its hash, or gone: a configuration problem when found by the server's texts", async () => {
    // A long rest after the tables: not read yet when the last stretch is taken.
    const long = formatExpectedSchema({
      ...(JSON.parse(text) as object),
      functions: { 'app.f()': { kind: 'function', definition: 'y'.repeat(2000) } },
    } as never);
    const target = file(long);
    const { guide } = await guided(target);
    const source = await readExpectedSource(target, undefined, WINDOW);
    expect(await source.hash?.()).toBe(createHash('sha256').update(long).digest('hex'));
    const walk = source.guideSlices?.();
    expect(walk?.next(guide)).toBe(true);
    // The tables are what the server printed, but the rest of the file is not what was hashed.
    writeFileSync(target, long.replace('yyyy', 'yyyz'));
    expect(() => walk?.end()).toThrow(/changed while it was being read/);
    walk?.close();
    const gone = await readExpectedSource(target, undefined, WINDOW);
    rmSync(target);
    expect(() => gone.guideSlices?.()).toThrow(
      new RegExp(`expected-schema file ${target} does not exist`),
    );
  });

  it('names a table from the middle of the file, held whole or not', async () => {
    const target = file(text);
    for (const source of [
      await readExpectedSource(target),
      await readExpectedSource(target, undefined, WINDOW),
    ]) {
      expect(source.tableAfter?.(0)).toBe('app.a');
      expect(source.tableAfter?.(text.indexOf('"app.a": {') / text.length)).toBe('app.b');
      expect(source.tableAfter?.(0.99)).toBeUndefined();
    }
    // A guess only: a file gone gives none (its read for the tables reports it).
    const gone = await readExpectedSource(target, undefined, WINDOW);
    rmSync(target);
    expect(gone.tableAfter?.(0)).toBeUndefined();
  });

  it('gone after its first bytes: a configuration problem that names it, however it is read', async () => {
    const target = file(text);
    const hashed = await readExpectedSource(target, undefined, WINDOW);
    const got = await readExpectedSource(target, undefined, WINDOW);
    const sliced = await readExpectedSource(target, undefined, WINDOW);
    const parsed = await readExpectedSource(target, undefined, WINDOW);
    rmSync(target);
    const gone = new RegExp(`expected-schema file ${target} does not exist`);
    await expect(hashed.hash?.()).rejects.toThrow(gone);
    // A hash that failed is not kept: the next one starts again (and fails again).
    await expect(hashed.hash?.()).rejects.toThrow(ConfigError);
    expect(() => got.sha256).toThrow(gone);
    expect(() => sliced.tableSlices?.()).toThrow(gone);
    expect(() => parsed.schema()).toThrow(gone);
  });
});

// verify and status start reading the file's bytes first of all (readStart), and make the file of
// them while the command loads (readAhead), as cli/main.ts does; loadExpected takes that read for
// the same path only, and keeps its own rules for an absent file.
describe('an expected-schema file read ahead', () => {
  function contextFor(expectPath: string, explicit: boolean, ahead?: string): CommandContext {
    const { ctx } = commandContext('verify', 'postgres://u@127.0.0.1:1/db');
    const config = { ...ctx.config, expect: { path: expectPath, explicit } };
    if (!ahead) return { ...ctx, config };
    const bytes = readStart(ahead, HEAD_BYTES);
    bytes.catch(() => undefined);
    return { ...ctx, config, expectedAhead: readAhead(ahead, bytes) };
  }

  it('is the file loadExpected returns, for the same path', async () => {
    const target = file('{ "version": 1, "tables": {} }\n');
    const ctx = contextFor(target, true, target);
    const ahead = await ctx.expectedAhead?.source;
    expect(await loadExpected(ctx)).toBe(ahead);
  });

  it('is not taken for another path', async () => {
    const wanted = file('{ "version": 1, "schemas": ["wanted"], "tables": {} }\n');
    const other = file('{ "version": 1, "schemas": ["other"], "tables": {} }\n');
    const loaded = await loadExpected(contextFor(wanted, true, other));
    expect(loaded?.schema().schemas).toEqual(['wanted']);
  });

  it('of a missing file: an error for an explicit path, a skip with a warning for the default', async () => {
    const missing = '/nonexistent/expected.json';
    await expect(loadExpected(contextFor(missing, true, missing))).rejects.toThrow(
      /expected-schema file \/nonexistent\/expected.json does not exist/,
    );
    const ctx = contextFor(missing, false, missing);
    expect(await loadExpected(ctx)).toBeUndefined();
    expect(ctx.report.warnings.join('\n')).toMatch(/no expected-schema file at \/nonexistent/);
  });

  it('of a directory: the read error, explicit or not', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'preflight-expected-'));
    await expect(loadExpected(contextFor(dir, true, dir))).rejects.toThrow(/EISDIR/);
    await expect(loadExpected(contextFor(dir, false, dir))).rejects.toThrow(/EISDIR/);
  });
});
