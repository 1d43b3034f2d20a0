import type { ConnectionOptions } from 'node:tls';

/** How to reach the database: everything `pg.Client` needs, TLS built by preflight itself. */
export interface ConnectionSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  readonly database: string;
  readonly ssl: false | ConnectionOptions;
  readonly sslmode: SslMode;
  /** The search_path of every connection (Prisma URLs' `?schema=`); the server default when undefined. */
  readonly schema?: string;
  /** The URL with the password replaced by `*****`, safe for logs and errors. */
  readonly redacted: string;
}

export const SSL_MODES = [
  'disable',
  'allow',
  'prefer',
  'require',
  'no-verify',
  'verify-ca',
  'verify-full',
] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** Replaces any password in a connection string (URL or key=value) by `*****`. */
export function redactUrl(text: string): string {
  // Up to the `@` even across spaces: a malformed URL's password may hold any character.
  return text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@\n"]*@/gi, '$1*****@')
    .replace(/(password\s*=\s*)('[^']*'|[^\s&]+)/gi, '$1*****');
}

/** Removes a secret from any text: the literal password and URL-embedded passwords. */
export function redactSecret(text: string, password: string | undefined): string {
  let out = redactUrl(text);
  if (password) {
    out = out.split(password).join('*****');
    const encoded = encodeURIComponent(password);
    if (encoded !== password) out = out.split(encoded).join('*****');
  }
  return out;
}

export interface UrlParts {
  host?: string;
  port?: string;
  user?: string;
  password?: string;
  database?: string;
  sslmode?: string;
  sslrootcert?: string;
  /** Prisma's `?schema=`: the schema migrations run in (search_path). */
  schema?: string;
}

/** Parses a `postgres://` or `postgresql://` URL; returns a problem (with the password redacted) when malformed. */
export function parseDatabaseUrl(text: string): UrlParts | string {
  const safe = redactUrl(text);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `database URL ${JSON.stringify(safe)} is not a valid URL: expected postgres://user:password@host:5432/database`;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    return `database URL ${JSON.stringify(safe)} has scheme "${url.protocol.replace(/:$/, '')}": expected postgres:// or postgresql://`;
  }
  const decode = (value: string): string | undefined => {
    if (!value) return undefined;
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  };
  const params = url.searchParams;
  const parts: UrlParts = {
    host: decode(url.hostname.replace(/^\[|\]$/g, '')) ?? params.get('host') ?? undefined,
    port: url.port || params.get('port') || undefined,
    user: decode(url.username) ?? params.get('user') ?? undefined,
    password: decode(url.password) ?? params.get('password') ?? undefined,
    database: decode(url.pathname.replace(/^\//, '')) ?? params.get('dbname') ?? undefined,
    sslmode: params.get('sslmode') ?? undefined,
    sslrootcert: params.get('sslrootcert') ?? undefined,
    schema: params.get('schema') ?? undefined,
  };
  return parts;
}
