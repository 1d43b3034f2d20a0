import * as crypto from 'node:crypto';

/** Node's one-shot digest (20.12+): no Hash object per call, a third of the time for small files. */
const oneShot = (
  crypto as { hash?: (algorithm: string, data: string | Buffer, encoding: 'hex') => string }
).hash;

/** SHA-256 of a text (as UTF-8) or of bytes, lowercase hex. */
export function sha256(data: string | Buffer): string {
  return oneShot
    ? oneShot('sha256', data, 'hex')
    : crypto.createHash('sha256').update(data).digest('hex');
}

/** The flat layout's checksum: SHA-256 of the file with CRLF turned into LF (line endings never count). */
export function flatChecksum(sql: string): string {
  return sha256(sql.replace(/\r\n/g, '\n'));
}

/** Prisma's checksum: SHA-256 hex of migration.sql exactly as written. */
export function prismaChecksum(sql: string): string {
  return sha256(sql);
}

/** Hex without zero padding per byte, as older Prisma versions wrote it. */
function unpaddedHex(hex: string): string {
  return hex.replace(/(..)/g, (byte) => byte.replace(/^0/, ''));
}

/**
 * Whether a stored Prisma checksum matches the file: as written, with its line endings converted
 * either way, or in the unpadded hex of older Prisma versions.
 */
export function matchesPrismaChecksum(stored: string, sql: string): boolean {
  const lf = sql.replace(/\r\n/g, '\n');
  const variants = new Set([sql, lf, lf.replace(/\n/g, '\r\n')]);
  for (const variant of variants) {
    const hex = sha256(variant);
    if (stored === hex || stored === unpaddedHex(hex)) return true;
  }
  return false;
}

/** Whether a stored flat checksum matches the file (LF-normalised, or raw for hand-written rows). */
export function matchesFlatChecksum(stored: string, sql: string): boolean {
  return stored === flatChecksum(sql) || stored === sha256(sql);
}
