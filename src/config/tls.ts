import type { ConnectionOptions } from 'node:tls';
import type { SslMode } from './database-url.js';

/**
 * Builds node's TLS options from an sslmode and an optional CA certificate, the way libpq reads
 * them. node-postgres drops a custom `ca` when the URL itself carries sslmode, so preflight never
 * passes the URL to pg: it builds these options and hands them over separately.
 */
export function buildTlsOptions(
  sslmode: SslMode,
  ca: string | undefined,
): false | ConnectionOptions {
  switch (sslmode) {
    case 'disable':
    case 'allow':
    case 'prefer':
      return false;
    case 'no-verify':
      return { rejectUnauthorized: false };
    case 'require':
      // libpq: with a root certificate, `require` verifies the chain like verify-ca.
      return ca
        ? { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined }
        : { rejectUnauthorized: false };
    case 'verify-ca':
      return {
        ...(ca ? { ca } : {}),
        rejectUnauthorized: true,
        checkServerIdentity: () => undefined,
      };
    case 'verify-full':
      return { ...(ca ? { ca } : {}), rejectUnauthorized: true };
  }
}

/** Default sslmode: verify-full when a CA certificate is given, otherwise no TLS. */
export function defaultSslMode(ca: string | undefined): SslMode {
  return ca ? 'verify-full' : 'disable';
}
