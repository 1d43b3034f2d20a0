import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { RunReport } from '../report/run-report.js';

/** What every command receives: resolved config, logger, the report it fills in, and the abort signal. */
export interface CommandContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly report: RunReport;
  /** Aborted on SIGTERM/SIGINT or the deadline; the reason is the PreflightError to surface. */
  readonly signal: AbortSignal;
}
