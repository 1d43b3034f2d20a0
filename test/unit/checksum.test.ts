import { createHash } from 'node:crypto';
import {
  flatChecksum,
  matchesFlatChecksum,
  matchesPrismaChecksum,
  prismaChecksum,
} from '../../src/migrations/checksum.js';

const hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
/** Prisma's old format: each byte in hex without zero padding (`{:x}`). */
const unpadded = (text: string): string =>
  [...createHash('sha256').update(text, 'utf8').digest()].map((b) => b.toString(16)).join('');

describe('prisma checksums', () => {
  const lf = 'CREATE TABLE "User" ("id" SERIAL NOT NULL);\n-- note\n';
  const crlf = lf.replace(/\n/g, '\r\n');

  it('stores SHA-256 hex of migration.sql exactly as written', () => {
    expect(prismaChecksum(lf)).toBe(hex(lf));
    expect(prismaChecksum(crlf)).toBe(hex(crlf));
    expect(prismaChecksum(`\uFEFF${lf}`)).toBe(hex(`\uFEFF${lf}`));
    expect(prismaChecksum('hello')).toBe(
      '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
    );
  });

  it.each([
    ['LF file, LF checksum', lf, hex(lf)],
    ['CRLF file, LF checksum', crlf, hex(lf)],
    ['LF file, CRLF checksum', lf, hex(crlf)],
    ['CRLF file, CRLF checksum', crlf, hex(crlf)],
  ])('matches across line endings: %s', (_case, file, stored) => {
    expect(matchesPrismaChecksum(stored, file)).toBe(true);
  });

  it('accepts the unpadded hex of older Prisma versions', () => {
    // A text whose digest has bytes below 0x10, so that the two formats differ.
    const text = Array.from({ length: 50 }, (_, i) => `-- ${i}\n`).find(
      (t) => unpadded(t).length < 64,
    );
    expect(text).toBeDefined();
    const old = unpadded(text ?? '');
    expect(old).not.toBe(hex(text ?? ''));
    expect(matchesPrismaChecksum(old, text ?? '')).toBe(true);
    expect(matchesPrismaChecksum(old, (text ?? '').replace(/\n/g, '\r\n'))).toBe(true);
  });

  it('rejects an edited file', () => {
    expect(matchesPrismaChecksum(hex(lf), `${lf}ALTER TABLE "User" ADD COLUMN "x" INT;\n`)).toBe(
      false,
    );
    expect(matchesPrismaChecksum(hex('abcd'), 'abc')).toBe(false);
    expect(matchesPrismaChecksum(hex('abc'), 'abc\n')).toBe(false);
  });
});

describe('flat checksums', () => {
  it('ignores line endings and accepts a raw hash written by hand', () => {
    const lf = 'CREATE TABLE a (id int);\n';
    const crlf = lf.replace(/\n/g, '\r\n');
    expect(flatChecksum(crlf)).toBe(flatChecksum(lf));
    expect(flatChecksum(lf)).toBe(hex(lf));
    expect(matchesFlatChecksum(flatChecksum(lf), crlf)).toBe(true);
    expect(matchesFlatChecksum(hex(crlf), crlf)).toBe(true);
    expect(matchesFlatChecksum(hex(lf), 'CREATE TABLE b (id int);\n')).toBe(false);
  });
});
