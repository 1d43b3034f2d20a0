import { digestRows } from '../../src/schema/introspect-queries.js';

describe('the digests as lines (digestRows)', () => {
  const digest = 'ab'.repeat(32);

  it('reads each line back into its row, names plain or JSON-escaped', () => {
    const text = [
      `16384 3591 ${digest} 12,2,3,0,1 f "public","vt_00001"`,
      `16390 17 ${digest} 0,0,0,0,0 t "odd \\" schema","a \\\\ b"`,
    ].join('\n');
    expect(digestRows(text)).toEqual([
      {
        oid: 16384,
        schema: 'public',
        name: 'vt_00001',
        digest,
        length: 3591,
        counts: [12, 2, 3, 0, 1],
        invalid: false,
      },
      {
        oid: 16390,
        schema: 'odd " schema',
        name: 'a \\ b',
        digest,
        length: 17,
        counts: [0, 0, 0, 0, 0],
        invalid: true,
      },
    ]);
  });

  it('is empty for no text (no table)', () => {
    expect(digestRows(null)).toEqual([]);
    expect(digestRows('')).toEqual([]);
  });

  it('refuses a line it does not write', () => {
    for (const line of [
      `16384 3591 ${digest} 12,2,3,0,1 x "public","t"`,
      `16384 3591 ${digest} 12,2,3,0,1 f public,t`,
      `16384 3591`,
      // One name only, or three: without a backslash, and with one.
      `16384 3591 ${digest} 12,2,3,0,1 f "public"`,
      `16384 3591 ${digest} 12,2,3,0,1 f "a","b","c"`,
      `16384 3591 ${digest} 12,2,3,0,1 f "a\\b"`,
      `16384 3591 ${digest} 12,2,3,0,1 f "a\\b","c","d"`,
      `16384 3591 ${digest} 12,2,3,0,1 f "a\\","b`,
    ]) {
      expect(() => digestRows(line)).toThrow(/digest line it does not write/);
    }
  });
});
