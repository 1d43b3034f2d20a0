import { flatChecksum, prismaChecksum } from '../../src/migrations/checksum.js';
import { planMigrations } from '../../src/migrations/plan.js';
import {
  planBaseline,
  planResolveApplied,
  planResolveRolledBack,
  findMigration,
} from '../../src/migrations/recovery.js';
import type { AppliedMigration, Layout, MigrationFile } from '../../src/migrations/types.js';
import { ConfigError, HistoryConflictError } from '../../src/errors.js';

function file(layout: Layout, name: string, sql = `-- ${name}\n`): MigrationFile {
  const id = layout === 'flat' ? BigInt(/^\d+/.exec(name)?.[0] ?? '0').toString() : name;
  return {
    id,
    name,
    relativePath: layout === 'flat' ? name : `${name}/migration.sql`,
    path: `/m/${name}`,
    sql,
    body: sql,
    noTransaction: false,
    checksum: layout === 'flat' ? flatChecksum(sql) : prismaChecksum(sql),
  };
}

function row(
  f: MigrationFile,
  state: 'applied' | 'failed' = 'applied',
  checksum = f.checksum,
): AppliedMigration {
  return {
    id: f.id,
    name: f.name,
    checksum,
    failed: state === 'failed',
  };
}

const flat = ['1_a.sql', '2_b.sql', '10_c.sql'].map((n) => file('flat', n));
const prisma = ['20210101000000_a', '20210102000000_b', '20210103000000_c'].map((n) =>
  file('prisma', n),
);

describe('planMigrations', () => {
  it('splits applied and pending in order', () => {
    const plan = planMigrations('flat', flat, [row(flat[0]!)]);
    expect(plan.applied.map((f) => f.name)).toEqual(['1_a.sql']);
    expect(plan.pending.map((f) => f.name)).toEqual(['2_b.sql', '10_c.sql']);
    expect(plan.conflicts).toEqual([]);
  });

  it.each([
    [
      'failed',
      [row(flat[0]!), row(flat[1]!, 'failed')],
      '2_b.sql',
      'resolve --rolled-back 2_b.sql',
    ],
    ['edited', [row(flat[0]!, 'applied', 'f00')], '1_a.sql', 'edited after it was applied'],
    ['missing', [row(file('flat', '5_gone.sql'))], '5_gone.sql', 'its file is gone'],
    ['out-of-order', [row(flat[0]!), row(flat[2]!)], '2_b.sql', 'older than the newest applied'],
  ])(
    'reports a %s migration as a conflict, naming it and the way out',
    (kind, history, name, text) => {
      const plan = planMigrations('flat', flat, history);
      expect(plan.conflicts).toEqual([
        expect.objectContaining({ kind, name, message: expect.stringContaining(text) }),
      ]);
    },
  );

  it('treats a failed migration as neither applied nor pending', () => {
    const plan = planMigrations('prisma', prisma, [row(prisma[0]!, 'failed')]);
    expect(plan.applied).toEqual([]);
    expect(plan.pending.map((f) => f.name)).toEqual(['20210102000000_b', '20210103000000_c']);
    expect(plan.conflicts.map((c) => c.kind)).toEqual(['failed']);
  });

  it('accepts a prisma checksum of the file with other line endings', () => {
    const lf = file('prisma', '20210101000000_a', 'SELECT 1;\nSELECT 2;\n');
    const crlf = { ...lf, sql: lf.sql.replace(/\n/g, '\r\n') };
    expect(planMigrations('prisma', [crlf], [row(lf)]).conflicts).toEqual([]);
  });
});

describe('findMigration', () => {
  it.each([
    ['2_b.sql', '2_b.sql'],
    ['2_b', '2_b.sql'],
    ['2', '2_b.sql'],
    ['0002', '2_b.sql'],
    ['migrations/10_c.sql', '10_c.sql'],
  ])('finds flat %s', (name, found) => {
    expect(findMigration('flat', flat, name)?.name).toBe(found);
  });

  it.each([
    ['20210102000000_b', '20210102000000_b'],
    ['20210102000000_b/', '20210102000000_b'],
    ['prisma/migrations/20210102000000_b/migration.sql', '20210102000000_b'],
  ])('finds prisma %s', (name, found) => {
    expect(findMigration('prisma', prisma, name)?.name).toBe(found);
  });

  it('does not take a number for a prisma folder', () => {
    expect(findMigration('prisma', prisma, '20210102000000')).toBeUndefined();
  });
});

describe('resolve --applied', () => {
  it('records a pending migration as applied', () => {
    expect(planResolveApplied('flat', flat, [row(flat[0]!)], '2_b.sql').actions).toEqual([
      { kind: 'mark-applied', file: flat[1] },
    ]);
  });

  it('rolls back the failed attempt, then records it as applied', () => {
    const plan = planResolveApplied('prisma', prisma, [row(prisma[0]!, 'failed')], prisma[0]!.name);
    expect(plan.actions).toEqual([
      { kind: 'roll-back-failed', id: prisma[0]!.id, name: prisma[0]!.name },
      { kind: 'mark-applied', file: prisma[0] },
    ]);
  });

  it('takes the checksum of an edited file', () => {
    const plan = planResolveApplied('flat', flat, [row(flat[0]!, 'applied', 'old')], '1');
    expect(plan.actions).toEqual([{ kind: 'update-checksum', file: flat[0] }]);
  });

  it('refuses an applied, unchanged migration (exit 6) and an unknown name (exit 2)', () => {
    expect(() => planResolveApplied('flat', flat, [row(flat[0]!)], '1_a.sql')).toThrow(
      HistoryConflictError,
    );
    expect(() => planResolveApplied('flat', flat, [], '7_x.sql')).toThrow(ConfigError);
    expect(() => planResolveApplied('flat', flat, [], 'b')).toThrow(/did you mean 2_b.sql/);
  });
});

describe('resolve --rolled-back', () => {
  it('marks a failed migration rolled back, also one whose file is gone', () => {
    const gone = file('flat', '11_gone.sql');
    expect(planResolveRolledBack('flat', flat, [row(flat[1]!, 'failed')], '2_b').actions).toEqual([
      { kind: 'roll-back-failed', id: '2', name: '2_b.sql' },
    ]);
    expect(
      planResolveRolledBack('flat', flat, [row(gone, 'failed')], '11_gone.sql').actions,
    ).toEqual([{ kind: 'roll-back-failed', id: '11', name: '11_gone.sql' }]);
  });

  it('refuses a finished or never applied migration (exit 6) and an unknown one (exit 2)', () => {
    expect(() => planResolveRolledBack('flat', flat, [row(flat[0]!)], '1_a.sql')).toThrow(
      /is not failed/,
    );
    expect(() => planResolveRolledBack('flat', flat, [], '1_a.sql')).toThrow(/never applied/);
    expect(() => planResolveRolledBack('flat', flat, [], '99_x.sql')).toThrow(ConfigError);
  });
});

describe('baseline --to', () => {
  it('records every migration up to NAME that the history lacks', () => {
    const plan = planBaseline('prisma', prisma, [row(prisma[0]!)], prisma[1]!.name);
    expect(plan.actions).toEqual([{ kind: 'mark-applied', file: prisma[1] }]);
    expect(planBaseline('flat', flat, [], '10').actions.map((a) => a.kind)).toEqual([
      'mark-applied',
      'mark-applied',
      'mark-applied',
    ]);
  });

  it('refuses NAME already applied, a failed migration up to NAME, an unknown NAME', () => {
    expect(() => planBaseline('flat', flat, [row(flat[1]!)], '2')).toThrow(/already applied/);
    expect(() => planBaseline('flat', flat, [row(flat[0]!, 'failed')], '2')).toThrow(
      /1_a.sql failed part-way/,
    );
    expect(() => planBaseline('flat', flat, [], 'zzz')).toThrow(ConfigError);
  });
});
