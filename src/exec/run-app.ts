import { constants } from 'node:os';
import type { Writable } from 'node:stream';
import { resolveExecutable } from './resolve-executable.js';

/** Signals preflight passes on to the app it started (SIGKILL and SIGSTOP cannot be caught). */
export const FORWARDED_SIGNALS = [
  'SIGTERM',
  'SIGINT',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
] as const;
export type ForwardedSignal = (typeof FORWARDED_SIGNALS)[number];

/** `process.execve` (Node.js 22.15+ / 23.11+): replaces the process image; returns only by throwing. */
export type Execve = (file: string, args: string[], env: Record<string, string>) => unknown;

/** The process-facing pieces runApp needs, handed in by the CLI entry (this module never reads `process`). */
export interface AppHost {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly stderr: Writable;
  /** Present where the running Node.js offers `process.execve`; then preflight becomes the app. */
  readonly execve: Execve | undefined;
  /** Calls `handler` when preflight receives `signal`; returns the function that stops listening. */
  onSignal(signal: ForwardedSignal, handler: () => void): () => void;
}

/** How preflight ended the app's run: the shell convention (128 + signal number when killed). */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal === null ? undefined : constants.signals[signal];
  return number === undefined ? 1 : 128 + number;
}

/**
 * Starts the app after a successful run, with preflight's stdio, working directory and environment.
 * With `execve`, preflight replaces itself with the app (same pid: the app receives the platform's
 * signals itself) and this never returns. Otherwise the app runs as a child, the forwarded signals are
 * passed on, and this resolves to the app's exit code (128 + signal number when it was killed), or to
 * 127 / 126 when the command cannot be found / executed. Never rejects.
 */
export async function runApp(argv: readonly string[], host: AppHost): Promise<number> {
  const command = argv[0] ?? '';
  const resolved = resolveExecutable(command, host.env.PATH, host.cwd);
  if (!resolved.ok) {
    host.stderr.write(`preflight: cannot start the app: ${resolved.message}\n`);
    return resolved.exitCode;
  }
  if (host.execve) {
    try {
      host.execve(resolved.file, [...argv], definedEntries(host.env));
    } catch (error) {
      // Still here: execve failed (a worker thread, a permission model, ...). Run the app as a child.
      host.stderr.write(
        `preflight: could not replace itself with the app (${(error as Error).message}); starting it as a child process\n`,
      );
    }
  }
  // Loaded here, not at start-up: most runs never start an app as a child (about 8 ms of start-up).
  const { spawn } = await import('node:child_process');
  return spawnApp(spawn, resolved.file, argv, host);
}

function definedEntries(env: AppHost['env']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}

/** Runs the app as a child with inherited stdio, forwarding signals until it exits. */
function spawnApp(
  spawn: typeof import('node:child_process').spawn,
  file: string,
  argv: readonly string[],
  host: AppHost,
): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(file, argv.slice(1), {
      argv0: argv[0],
      cwd: host.cwd,
      env: host.env,
      stdio: 'inherit',
    });
    const forward = (signal: ForwardedSignal) => (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    const unsubscribe = FORWARDED_SIGNALS.map((signal) => host.onSignal(signal, forward(signal)));
    let settled = false;
    const settle = (exitCode: number): void => {
      if (settled) return;
      settled = true;
      for (const stop of unsubscribe) stop();
      resolve(exitCode);
    };
    child.on('error', (error: NodeJS.ErrnoException) => {
      // After a successful spawn, an error is a failed kill: the app runs on and 'exit' still comes.
      if (child.pid !== undefined) return;
      host.stderr.write(`preflight: cannot start the app ${argv[0]}: ${error.message}\n`);
      settle(error.code === 'ENOENT' ? 127 : 126);
    });
    child.once('exit', (code, signal) => settle(exitCodeOf(code, signal)));
  });
}
