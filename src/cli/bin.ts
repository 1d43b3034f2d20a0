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

/** What runApp may do to this process: inherit its environment, forward its signals, execve. */
function appHost(): AppHost {
  const execve = (process as { execve?: Execve }).execve;
  return {
    env: process.env,
    cwd: process.cwd(),
    stderr: process.stderr,
    execve: typeof execve === 'function' ? execve.bind(process) : undefined,
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
  });
