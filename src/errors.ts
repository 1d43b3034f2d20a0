/** Exit codes of SPEC §8. */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  unreachable: 3,
  lockTimeout: 4,
  migrationFailed: 5,
  historyConflict: 6,
  seedFailed: 7,
  drift: 8,
  pending: 9,
  sigint: 130,
  sigterm: 143,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** The one error type of preflight: a short message, an exit code, a cause, and structured details. */
export class PreflightError extends Error {
  readonly exitCode: number;
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(
    code: string,
    exitCode: number,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.details = options.details ?? {};
  }
}

/** Bad command line: unknown command or flag, missing argument. */
export class UsageError extends PreflightError {
  constructor(message: string) {
    super('usage', ExitCode.usage, message);
  }
}

/** Bad configuration; carries every problem found, reported together. */
export class ConfigError extends PreflightError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], options: { cause?: unknown } = {}) {
    const head =
      problems.length === 1 ? 'configuration error' : `${problems.length} configuration errors`;
    super('config', ExitCode.usage, `${head}:\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
      ...options,
      details: { problems },
    });
    this.problems = problems;
  }
}

/** The database could not be reached within the wait, or refused the login. */
export class ConnectError extends PreflightError {
  constructor(
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super('connect', ExitCode.unreachable, message, options);
  }
}

/** The advisory lock was not acquired within the lock timeout. */
export class LockTimeoutError extends PreflightError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('lock-timeout', ExitCode.lockTimeout, message, { details });
  }
}

/** A migration failed; nothing of it was committed unless it ran outside a transaction. */
export class MigrationError extends PreflightError {
  constructor(
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super('migration', ExitCode.migrationFailed, message, options);
  }
}

/** The history disagrees with the files: edited, missing, failed or out-of-order migrations. */
export class HistoryConflictError extends PreflightError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('history-conflict', ExitCode.historyConflict, message, { details });
  }
}

/** A seed failed; the seed transaction was rolled back. */
export class SeedError extends PreflightError {
  constructor(
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super('seed', ExitCode.seedFailed, message, options);
  }
}

/** Verification found drift between the database and what is expected. */
export class DriftError extends PreflightError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('drift', ExitCode.drift, message, { details });
  }
}

/** The run was interrupted by a signal; the work in flight was cancelled and rolled back. */
export class InterruptedError extends PreflightError {
  readonly signal: 'SIGINT' | 'SIGTERM';
  constructor(signal: 'SIGINT' | 'SIGTERM', message = `interrupted by ${signal}`) {
    super('interrupted', signal === 'SIGINT' ? ExitCode.sigint : ExitCode.sigterm, message);
    this.signal = signal;
  }
}
