import type { Writable } from 'node:stream';
import { resolveConfig, type Env } from '../config/resolve-config.js';
import type { Config } from '../config/config.js';
import { redactSecret } from '../config/database-url.js';
import { ExitCode, PreflightError } from '../errors.js';
import { createLogger, type Logger } from '../log/logger.js';
import { formatHumanReport } from '../report/human.js';
import { writeJsonReport, writeTerminationLog } from '../report/outputs.js';
import { newReport, type RunReport } from '../report/run-report.js';
import type { CommandContext } from '../pipeline/context.js';
import type { FileStart } from '../schema/read-whole.js';
import { parseArgs, type CommandName } from './args.js';
import { helpText } from './help.js';
import { VERSION } from '../version.js';
import { settled } from '../connection/background.js';

/** What the entry hands to main: the only place that knows about `process`. */
export interface MainIo {
  readonly argv: readonly string[];
  readonly env: Env;
  readonly cwd: string;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly isTty: boolean;
  /** Aborted by the entry on SIGTERM/SIGINT, with an InterruptedError as reason. */
  readonly signal: AbortSignal;
}

/** What the entry does once main returns: exit with a code, or start the app (`run -- CMD`). */
export type Outcome = { readonly exitCode: number } | { readonly exec: readonly string[] };

/**
 * Runs one command line to completion; never throws. Returns the exit code, or, after a successful
 * `run -- CMD ARGS...`, the app's argv for the entry to start (never on failure).
 */
export async function main(io: MainIo): Promise<Outcome> {
  let config: Config;
  try {
    const args = parseArgs(io.argv);
    if (args.switches.version) {
      io.stdout.write(`preflight ${VERSION}\n`);
      return { exitCode: 0 };
    }
    if (args.switches.help || args.command === 'help') {
      io.stdout.write(
        helpText(
          args.command === 'help' ? (args.positionals[0] as CommandName | undefined) : args.command,
        ),
      );
      return { exitCode: 0 };
    }
    config = resolveConfig({ args, env: io.env, cwd: io.cwd, isTty: io.isTty });
  } catch (error) {
    const message = error instanceof PreflightError ? error.message : String(error);
    io.stderr.write(`preflight: ${redactSecret(message, undefined)}\n`);
    return { exitCode: error instanceof PreflightError ? error.exitCode : ExitCode.internal };
  }
  const logger = createLogger({
    level: config.logLevel,
    format: config.logFormat,
    destination: io.stdout,
    secrets: config.database?.password ? [config.database.password] : [],
  });
  const exitCode = await execute(config, logger, io);
  // Connections being closed or cancelling a statement: done before main returns (see bin).
  await settled();
  const app = config.exec[0];
  if (exitCode !== 0 || app === undefined) return { exitCode };
  // Only the command name: arguments may carry secrets.
  logger.info({ event: 'app.start', command: app }, `starting the app: ${app}`);
  logger.flush?.();
  return { exec: config.exec };
}

/** Runs the resolved command with a deadline, maps errors to exit codes, prints and writes the reports. */
async function execute(config: Config, logger: Logger, io: MainIo): Promise<number> {
  const started = Date.now();
  const report: RunReport = newReport(config.command);
  report.database = config.database?.redacted;
  const controller = new AbortController();
  const forward = (): void => controller.abort(io.signal.reason);
  io.signal.addEventListener('abort', forward, { once: true });
  const deadline =
    config.deadlineMs === undefined
      ? undefined
      : setTimeout(
          () => controller.abort(deadlineError(config.deadlineMs ?? 0, report)),
          config.deadlineMs,
        );
  let ctx: CommandContext = { config, logger, report, signal: controller.signal };
  let exitCode: number;
  try {
    // Loaded on use, so that --version, --help and configuration errors answer without loading pg.
    // The connection starts before the commands load, so that the server works meanwhile.
    if (config.command !== 'new' && config.command !== 'help') {
      // verify and status: the expected-schema file's bytes (a large file's first ones) first of
      // all, on the thread pool while the connection's modules load and it logs in (a module of
      // node:fs alone).
      const readsAhead = config.command === 'verify' || config.command === 'status';
      let bytes: Promise<FileStart> | undefined;
      if (readsAhead) {
        const { HEAD_BYTES, readStart } = await import('../schema/read-whole.js');
        bytes = readStart(config.expect.path, HEAD_BYTES);
        // Its errors are the read-ahead's, below.
        bytes.catch(() => undefined);
      }
      const { connectEarly } = await import('../pipeline/session-scope.js');
      ctx = { ...ctx, early: connectEarly(ctx) };
      // One turn of the event loop: the socket connects and sends its login before the commands
      // load (module loading alone never yields).
      await new Promise((resolve) => setImmediate(resolve));
      // The file as verify and status read it, from those bytes (the module loaded after the
      // login: loading it before held the login back).
      if (readsAhead) {
        const { readAhead } = await import('../schema/expected-file.js');
        ctx = { ...ctx, expectedAhead: readAhead(config.expect.path, bytes) };
      }
    }
    const { COMMAND_HANDLERS } = await import('./commands.js');
    exitCode = await COMMAND_HANDLERS[config.command](ctx);
  } catch (error) {
    // Once aborted (signal or deadline), whatever the interrupted step threw is a consequence.
    // (An error that wraps the reason keeps its details, e.g. what a migration was left with.)
    const reason: unknown = controller.signal.reason;
    const wrapsReason = error instanceof PreflightError && error.cause === reason;
    const cause: unknown = controller.signal.aborted && !wrapsReason ? reason : error;
    exitCode = recordError(report, cause, config.database?.password, logger);
  } finally {
    ctx.early?.release();
    if (deadline) clearTimeout(deadline);
    io.signal.removeEventListener('abort', forward);
  }
  report.exitCode = exitCode;
  report.durationMs = Date.now() - started;
  finish(config, report, io);
  logger.info(
    { event: 'done', exitCode, durationMs: report.durationMs },
    exitCode === 0 ? 'done' : `done with exit code ${exitCode}`,
  );
  logger.flush?.();
  return exitCode;
}

function deadlineError(ms: number, report: RunReport): PreflightError {
  const phase = report.phase ?? 'connect';
  const code = { connect: 3, lock: 4, migrate: 5, seed: 7, verify: 8 }[phase];
  return new PreflightError(
    'deadline',
    code,
    `the whole-run deadline (--deadline ${ms}ms) passed during ${phase}: the running statement was cancelled and rolled back`,
  );
}

function recordError(
  report: RunReport,
  error: unknown,
  password: string | undefined,
  logger: Logger,
): number {
  if (error instanceof PreflightError) {
    const message = redactSecret(error.message, password);
    report.error = { code: error.code, exitCode: error.exitCode, message };
    logger.error({ event: 'error', code: error.code, exitCode: error.exitCode }, message);
    return error.exitCode;
  }
  const message = redactSecret(
    error instanceof Error ? (error.stack ?? error.message) : String(error),
    password,
  );
  report.error = {
    code: 'internal',
    exitCode: 1,
    message: `internal error (a bug in preflight, please report it with this log): ${message}`,
  };
  logger.error({ event: 'error', code: 'internal', exitCode: 1 }, report.error.message);
  return ExitCode.internal;
}

function finish(config: Config, report: RunReport, io: MainIo): void {
  const password = config.database?.password;
  if (config.command !== 'new') io.stderr.write(redactSecret(formatHumanReport(report), password));
  if (config.reportPath) {
    try {
      writeJsonReport(config.reportPath, report, password);
    } catch (error) {
      io.stderr.write(
        `preflight: cannot write the report to ${config.reportPath}: ${(error as Error).message}\n`,
      );
    }
  }
  if (report.exitCode !== 0) writeTerminationLog(config.terminationLog, report, password);
}
