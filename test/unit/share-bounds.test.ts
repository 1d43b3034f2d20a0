import { tablePartIn } from '../../src/schema/introspect.js';

describe('the bound on relname of a share split by name (tablePartIn)', () => {
  it('is the table part of a name in the one schema read', () => {
    expect(tablePartIn(['public'], 'public.vt_02345')).toBe('vt_02345');
    expect(tablePartIn(['public'], 'public.')).toBe('');
    // Everything after the schema's dot, dots included.
    expect(tablePartIn(['public'], 'public.a.b')).toBe('a.b');
    expect(tablePartIn(['Odd Schema'], 'Odd Schema.x')).toBe('x');
  });

  it('is none for several schemas, another schema, or no dot after the schema', () => {
    expect(tablePartIn(['public', 'billing'], 'public.a')).toBeUndefined();
    expect(tablePartIn([], 'public.a')).toBeUndefined();
    expect(tablePartIn(['public'], 'billing.a')).toBeUndefined();
    expect(tablePartIn(['public'], 'publica')).toBeUndefined();
    expect(tablePartIn(['public'], 'public_x.a')).toBeUndefined();
    expect(tablePartIn(['public'], '~')).toBeUndefined();
  });

  it('is none for a part longer than a name can be, counted in bytes', () => {
    expect(tablePartIn(['s'], `s.${'x'.repeat(63)}`)).toBe('x'.repeat(63));
    expect(tablePartIn(['s'], `s.${'x'.repeat(64)}`)).toBeUndefined();
    expect(tablePartIn(['s'], `s.${'é'.repeat(31)}x`)).toBe(`${'é'.repeat(31)}x`);
    expect(tablePartIn(['s'], `s.${'é'.repeat(32)}`)).toBeUndefined();
  });
});
