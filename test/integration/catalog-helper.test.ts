import type { Precheck } from '../../src/pipeline/precheck.js';
import {
  catalogHelper,
  endHelper,
  helperAfter,
  verifyStructure,
} from '../../src/pipeline/verify-structure.js';
import type { ExpectedSource } from '../../src/schema/expected-file.js';
import { commandContext } from '../helpers/context.js';
import { adminUrl, connectAsSession, createTestDatabase } from '../helpers/db.js';
import { recordStatements } from '../helpers/statements.js';

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
    const { sent, restore } = recordStatements(client);
    try {
      const { ctx } = commandContext('verify', db.url);
      const small: ExpectedSource = {
        ...fileOf(LARGE / 2),
        schema: () => ({ schemas: ['public'], tables: ['public.small'] }),
      };
      const result = await verifyStructure(ctx, client, small, 'never');
      expect(result.findings).toEqual([]);
      expect(sent.filter((text) => text.includes(') AS digests'))).toHaveLength(1);
    } finally {
      restore();
      await client.end();
      await db.drop();
    }
  });
});
