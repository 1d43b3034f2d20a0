#!/usr/bin/env node
import { InterruptedError } from '../errors.js';
import { runApp, type AppHost, type Execve } from '../exec/run-app.js';
import { main } from './main.js';

// The only module that touches `process`: argv, environment, signals, exit code.
const controller = new AbortController();
let interrupted = 0;
const onInterrupt = (signal: 'SIGTERM' | 'SIGINT'): void => {
  interrupted++;
  if (interrupted > 1) process.exit(signal === 'SIGINT' ? 130 : 143);
  controller.abort(new InterruptedError(signal));
};
const onSigterm = (): void => onInterrupt('SIGTERM');
const onSigint = (): void => onInterrupt('SIGINT');
process.on('SIGTERM', onSigterm);
process.on('SIGINT', onSigint);

/**
 * process.execve where Node.js offers it. Node.js ignores SIGPIPE and SIGXFSZ, and execve(2) keeps
 * ignored signals ignored; adding and removing a listener resets them to the default first, so the
 * app starts with the dispositions a spawned child gets. If execve fails, a no-op listener keeps
 * them harmless for the child-process fallback.
 */
function nodeExecve(): Execve | undefined {
  const execve = (process as { execve?: Execve }).execve;
  if (typeof execve !== 'function') return undefined;
  return (file, args, env) => {
    const ignore = (): void => undefined;
    for (const signal of ['SIGPIPE', 'SIGXFSZ'] as const)
      process.on(signal, ignore).off(signal, ignore);
    try {
      return execve.call(process, file, args, env);
    } catch (error) {
      for (const signal of ['SIGPIPE', 'SIGXFSZ'] as const) process.on(signal, ignore);
      throw error;
    }
  };
}

/** What runApp may do to this process: inherit its environment, forward its signals, execve. */
function appHost(): AppHost {
  return {
    env: process.env,
    cwd: process.cwd(),
    stderr: process.stderr,
    execve: nodeExecve(),
    onSignal(signal, handler) {
      process.on(signal, handler);
      return () => process.off(signal, handler);
    },
  };
}

main({
  argv: process.argv.slice(2),
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
  isTty: Boolean(process.stdout.isTTY),
  signal: controller.signal,
})
  .then(async (outcome) => {
    if ('exitCode' in outcome) {
      process.exitCode = outcome.exitCode;
      return;
    }
    // A signal that arrived after the run succeeded still means: do not start the app.
    const reason: unknown = controller.signal.reason;
    if (reason instanceof InterruptedError) {
      process.exitCode = reason.exitCode;
      return;
    }
    process.off('SIGTERM', onSigterm);
    process.off('SIGINT', onSigint);
    process.exitCode = await runApp(outcome.exec, appHost());
  })
  .catch((error: unknown) => {
    process.stderr.write(`preflight: internal error: ${String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(exitOnceWritten);

/**
 * Ends the process as soon as stdout and stderr have taken every line (a pipe may be written
 * asynchronously): main has finished everything it started, background closes included, so this
 * only skips Node.js tearing its heap down, about 10 ms of every run. An app started by
 * `run -- CMD` has exited by now, or replaced this process.
 */
function exitOnceWritten(): void {
  const unwritten = [process.stdout, process.stderr].filter((stream) => stream.writableLength > 0);
  let left = unwritten.length;
  if (left === 0) process.exit();
  for (const stream of unwritten) {
    stream.write('', () => {
      left -= 1;
      if (left === 0) process.exit();
    });
  }
}
