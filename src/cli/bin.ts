#!/usr/bin/env node
import { InterruptedError } from '../errors.js';
import { main } from './main.js';

// The only module that touches `process`: argv, environment, signals, exit code.
const controller = new AbortController();
let interrupted = 0;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    interrupted++;
    if (interrupted > 1) process.exit(signal === 'SIGINT' ? 130 : 143);
    controller.abort(new InterruptedError(signal));
  });
}

main({
  argv: process.argv.slice(2),
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
  isTty: Boolean(process.stdout.isTTY),
  signal: controller.signal,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`preflight: internal error: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
