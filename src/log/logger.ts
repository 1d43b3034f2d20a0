import pino from 'pino';
import type { LogFormat, LogLevel } from '../config/config.js';
import { redactUrl } from '../config/database-url.js';
import { formatPrettyLine } from './pretty.js';

export type Logger = pino.Logger;

/** Where log lines go: a file descriptor (stdout by default) or any writable with `write`. */
export interface LogDestination {
  write(line: string): unknown;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  readonly destination?: LogDestination;
  /** Secrets scrubbed from every line whatever the call site did (the database password). */
  readonly secrets?: readonly string[];
}

/** A pino logger: one JSON object per line (or pretty text), every line with an `event`. */
export function createLogger(options: LoggerOptions): Logger {
  const sink = options.destination ?? pino.destination({ dest: 1, sync: true });
  const secrets = (options.secrets ?? []).filter((s) => s.length > 0);
  const scrub = (line: string): string => {
    let out = redactUrl(line);
    for (const secret of secrets) out = out.split(secret).join('*****');
    return out;
  };
  const stream: LogDestination = {
    write: (line: string) =>
      sink.write(options.format === 'pretty' ? formatPrettyLine(scrub(line)) : scrub(line)),
  };
  return pino(
    {
      level: options.level,
      base: { app: 'preflight' },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ['password', '*.password', 'connectionString'], censor: '*****' },
    },
    stream,
  );
}
