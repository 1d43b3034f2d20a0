import type { CommandName } from '../cli/args.js';
import type { ConnectionSettings } from './database-url.js';

export type LogFormat = 'json' | 'pretty';
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A path setting, and whether the user gave it (an explicit path must exist; a default may be absent). */
export interface PathSetting {
  readonly path: string;
  readonly explicit: boolean;
}

/** Everything a command needs, resolved once from flags, environment, `.env` and defaults. */
export interface Config {
  readonly command: CommandName;
  readonly cwd: string;
  /** Undefined only for commands that do not connect (`new`, `help`). */
  readonly database: ConnectionSettings | undefined;
  readonly migrations: PathSetting;
  readonly seeds: PathSetting;
  readonly expect: PathSetting;
  readonly waitMs: number;
  readonly lockTimeoutMs: number;
  readonly ddlLockTimeoutMs: number;
  readonly ddlRetries: number;
  readonly statementTimeoutMs: number | undefined;
  readonly deadlineMs: number | undefined;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly reportPath: string | undefined;
  readonly strict: boolean;
  /** Always read and compare the whole catalog, even when its fingerprint matches a passed verification. */
  readonly fullVerify: boolean;
  readonly exec: readonly string[];
  /** Command arguments: `new NAME`, `resolve --applied NAME`, `baseline --to NAME`, `snapshot --out`. */
  readonly name: string | undefined;
  readonly resolveAs: 'applied' | 'rolled-back' | undefined;
  readonly out: string | undefined;
  readonly fromMigrations: boolean;
  readonly check: boolean;
  /** Where the Kubernetes termination message goes (written only when writable). */
  readonly terminationLog: string;
}
