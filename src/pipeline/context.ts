import type pg from 'pg';
import type { Config } from '../config/config.js';
import type { ConnectionSettings } from '../config/database-url.js';
import type { Logger } from '../log/logger.js';
import type { RunReport } from '../report/run-report.js';
import type { ReadAhead } from '../schema/expected-file.js';

/** What every command receives: resolved config, logger, the report it fills in, and the abort signal. */
export interface CommandContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly report: RunReport;
  /** Aborted on SIGTERM/SIGINT or the deadline; the reason is the PreflightError to surface. */
  readonly signal: AbortSignal;
  /** A connection to `config.database` started while the command loaded (see connectEarly). */
  readonly early?: EarlyConnection;
  /** The expected-schema file, read while the command loaded (see readAhead). */
  readonly expectedAhead?: ReadAhead;
}

/** A connection attempt started before it is needed, for the command's first session to take. */
export interface EarlyConnection {
  /** The settings it connects with: only a session with these very settings takes it. */
  readonly settings: ConnectionSettings;
  /** The attempt, once: connect()'s promise, and how to drop it; undefined once taken. */
  take(): { readonly client: Promise<pg.Client>; drop(): void } | undefined;
  /** Drops and closes the attempt if no session took it. */
  release(): void;
}
