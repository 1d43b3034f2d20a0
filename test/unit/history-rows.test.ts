import { flatHistory } from '../../src/migrations/flat-history.js';
import { historyRows } from '../../src/migrations/history.js';
import { prismaHistory } from '../../src/migrations/prisma-history.js';

// The history is read as one JSON value (see HistoryStore.readSql); these are the rows pg hands
// back for it, as text.
const result = (history: unknown): unknown[] => [{ history }];

describe('historyRows', () => {
  it('reads the one JSON array of rows', () => {
    expect(historyRows(result('[["1","1_a.sql","ab",true]]'))).toEqual([
      ['1', '1_a.sql', 'ab', true],
    ]);
    expect(historyRows(result('[]'))).toEqual([]);
  });

  it.each([
    ['no row at all', []],
    ['a NULL', result(null)],
    ['a row per migration (the old shape)', [{ version: '1', name: '1_a.sql' }]],
    ['an object', result('{"version":"1"}')],
    ['a list of values, not of rows', result('["1","1_a.sql"]')],
  ])('refuses %s with a clear error', (_what, rows) => {
    expect(() => historyRows(rows)).toThrow(/history query returned/);
  });

  it('throws on text that is not JSON', () => {
    expect(() => historyRows(result('[["1",'))).toThrow(SyntaxError);
  });
});

describe('the stores read their rows from it', () => {
  it('flat: version, name, checksum and finished, a failed row when not finished', () => {
    expect(
      flatHistory.fromRows(result('[["2","2_b.sql","cd",false],["1","1_a.sql","ab",true]]')),
    ).toEqual([
      { id: '2', name: '2_b.sql', checksum: 'cd', failed: true },
      { id: '1', name: '1_a.sql', checksum: 'ab', failed: false },
    ]);
  });

  it('prisma: in the order given, rolled-back rows left out, the row id kept', () => {
    const rows = result(
      JSON.stringify([
        ['u1', 'aa', '20240101_init', true, false],
        ['u2', 'bb', '20240102_next', false, true],
        ['u3', 'cc', '20240102_next', false, false],
      ]),
    );
    expect(prismaHistory.fromRows(rows)).toEqual([
      { id: '20240101_init', name: '20240101_init', checksum: 'aa', failed: false, rowId: 'u1' },
      { id: '20240102_next', name: '20240102_next', checksum: 'cc', failed: true, rowId: 'u3' },
    ]);
  });
});
