import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import type { Precheck } from '../../src/pipeline/precheck.js';
import { readWhileConnecting } from '../../src/pipeline/read-only-start.js';
import {
  catalogHelper,
  endHelper,
  helperAfter,
  helperForFile,
  verifyStructure,
} from '../../src/pipeline/verify-structure.js';
import type { ExpectedSource } from '../../src/schema/expected-file.js';
import { ensureVerifiedStateTable } from '../../src/schema/verified-state.js';
import { commandContext } from '../helpers/context.js';
import { adminUrl, connectAsSession, createTestDatabase } from '../helpers/db.js';

function fileOf(size: number): ExpectedSource {
  return {
    path: 'expected.json',
    sha256: '0'.repeat(64),
    size,
    schema: () => ({}),
    parsed: false,
    schemasHint: () => undefined,
    exhaustiveHint: () => false,
  };
}

const LARGE = 5 * 1024 * 1024;

describe('the second connection for the catalog of a large schema', () => {
  it('is opened for a file of 4 MiB or more, with the session settings', async () => {
    const { ctx } = commandContext('verify', adminUrl());
    const helper = await catalogHelper(ctx, fileOf(LARGE));
    expect(helper).toBeDefined();
    try {
      const row = (await helper?.query<{ one: number }>('SELECT 1 AS one'))?.rows[0];
      expect(row).toEqual({ one: 1 });
    } finally {
      await helper?.end();
    }
  });

  it('is not opened for a smaller file', async () => {
    const { ctx } = commandContext('verify', adminUrl());
    expect(await catalogHelper(ctx, fileOf(LARGE / 2))).toBeUndefined();
  });

  it('is skipped, with a debug line, when it cannot connect: the session reads alone', async () => {
    const unreachable = new URL(adminUrl());
    unreachable.port = '1';
    const { ctx, lines } = commandContext('verify', unreachable.toString());
    expect(await catalogHelper(ctx, fileOf(LARGE))).toBeUndefined();
    expect(lines).toContainEqual(
      expect.objectContaining({ event: 'verify.helper-skipped', level: 'debug' }),
    );
  });

  it('is opened ahead only when the precheck shows a full read, and ended by endHelper', async () => {
    const { ctx } = commandContext('verify', adminUrl());
    const stored = {
      fingerprint: 'f',
      verifiedAt: 'now',
      result: { findings: [], checkedBy: {}, assertions: [] },
    };
    const unchanged = { lookup: { fingerprint: 'f', stored } } as unknown as Precheck;
    const changed = { lookup: { fingerprint: 'g', stored } } as unknown as Precheck;
    expect(helperAfter(ctx, fileOf(LARGE / 2), Promise.resolve(changed))).toBeUndefined();
    expect(await helperAfter(ctx, fileOf(LARGE), Promise.resolve(unchanged))).toBeUndefined();
    // A failed lookup: no helper, and no rejection left for the caller.
    expect(
      await helperAfter(ctx, fileOf(LARGE), Promise.reject(new Error('lookup'))),
    ).toBeUndefined();
    for (const precheck of [changed, undefined]) {
      const opening = helperAfter(ctx, fileOf(LARGE), Promise.resolve(precheck));
      const helper = await opening;
      expect(helper).toBeDefined();
      expect((await helper?.query<{ one: number }>('SELECT 1 AS one'))?.rows[0]).toEqual({
        one: 1,
      });
      await endHelper(opening);
      await expect(helper?.query('SELECT 1')).rejects.toThrow();
    }
    await endHelper(undefined);
  });

  it('is not opened for a small file: the session reads every digest in one statement', async () => {
    const db = await createTestDatabase('pf_helper');
    await db.query('CREATE TABLE small (id int PRIMARY KEY)');
    const client = await connectAsSession(db.url);
    const sent: string[] = [];
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    client.query = ((text: unknown, ...rest: unknown[]) => {
      if (typeof text === 'string') sent.push(text);
      return query(text, ...rest);
    }) as typeof client.query;
    try {
      const { ctx } = commandContext('verify', db.url);
      const small: ExpectedSource = {
        ...fileOf(LARGE / 2),
        schema: () => ({ schemas: ['public'], tables: ['public.small'] }),
      };
      const result = await verifyStructure(ctx, client, small, 'never');
      expect(result.findings).toEqual([]);
      expect(sent.filter((text) => text.includes("'digests'"))).toHaveLength(1);
    } finally {
      client.query = query as typeof client.query;
      await client.end();
      await db.drop();
    }
  });
});

describe('the second connection opened before the file is read', () => {
  const directory = mkdtempSync(join(tmpdir(), 'pf-early-helper-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  let files = 0;
  /** A file of `size` bytes on disk (read, never parsed, here). */
  const fileOnDisk = (size: number): string => {
    const path = join(directory, `expected-${++files}.json`);
    writeFileSync(path, Buffer.alloc(size, 0x20));
    return path;
  };
  const one = async (client: pg.Client | undefined): Promise<unknown> =>
    (await client?.query<{ one: number }>('SELECT 1 AS one'))?.rows[0];
  /** Whether `client` was ended (a query on an ended client rejects). */
  const ended = async (client: pg.Client | undefined): Promise<boolean> => {
    await new Promise((resolve) => setImmediate(resolve));
    return (
      client?.query('SELECT 1').then(
        () => false,
        () => true,
      ) ?? Promise.resolve(false)
    );
  };
  const stored = {
    fingerprint: 'f',
    verifiedAt: 'now',
    result: { findings: [], checkedBy: {}, assertions: [] },
  };
  const unchanged = { lookup: { fingerprint: 'f', stored } } as unknown as Precheck;

  it('is opened for a file of 4 MiB or more on disk only', async () => {
    const { ctx } = commandContext('verify', adminUrl());
    expect(helperForFile(ctx, fileOnDisk(LARGE / 2))).toBeUndefined();
    expect(helperForFile(ctx, join(directory, 'absent.json'))).toBeUndefined();
    const early = helperForFile(ctx, fileOnDisk(LARGE));
    expect(await one(await early?.client)).toEqual({ one: 1 });
    await endHelper(early?.client);
  });

  it('is the helper of the verification, with no other opened; ended when the file is small', async () => {
    const { ctx } = commandContext('verify', adminUrl());
    const early = helperForFile(ctx, fileOnDisk(LARGE));
    const opened = await early?.client;
    expect(opened).toBeDefined();
    // Opened only once a full read is certain: the precheck is not asked again.
    const helper = helperAfter(
      ctx,
      fileOf(LARGE),
      Promise.resolve(unchanged),
      Promise.resolve(early),
    );
    expect(await helper).toBe(opened);
    await endHelper(helper);
    expect(await ended(opened)).toBe(true);
    // The file read turned out small (or absent): the early helper is ended, none is given.
    const other = helperForFile(ctx, fileOnDisk(LARGE));
    const otherClient = await other?.client;
    expect(
      helperAfter(ctx, fileOf(LARGE / 2), Promise.resolve(undefined), Promise.resolve(other)),
    ).toBeUndefined();
    expect(await ended(otherClient)).toBe(true);
    expect(
      helperAfter(ctx, undefined, Promise.resolve(undefined), Promise.resolve(undefined)),
    ).toBeUndefined();
  });

  it('opens while the file is read when nothing is recorded, or under --full-verify; not otherwise', async () => {
    const db = await createTestDatabase('pf_early_helper');
    const client = await connectAsSession(db.url);
    const path = fileOnDisk(LARGE);
    const startWith = async (flags: string[]) => {
      const { ctx } = commandContext('verify', db.url, ['--expect', path, ...flags]);
      const start = await readWhileConnecting(ctx, () => undefined)(Promise.resolve(client));
      expect(start.expected?.size).toBe(LARGE);
      return start.helper;
    };
    try {
      // No preflight_verification: nothing to look up, a full read is certain.
      const early = await startWith([]);
      expect(await one(await early?.client)).toEqual({ one: 1 });
      await endHelper(early?.client);
      await ensureVerifiedStateTable(client);
      // Something may be recorded: the lookup decides (helperAfter), after the file is read.
      expect(await startWith([])).toBeUndefined();
      const full = await startWith(['--full-verify']);
      expect(await one(await full?.client)).toEqual({ one: 1 });
      await endHelper(full?.client);
      // A small file: never.
      const { ctx } = commandContext('verify', db.url, [
        '--expect',
        fileOnDisk(1024),
        '--full-verify',
      ]);
      const start = await readWhileConnecting(ctx, () => undefined)(Promise.resolve(client));
      expect(await start.helper).toBeUndefined();
    } finally {
      await client.end();
      await db.drop();
    }
  });
});
