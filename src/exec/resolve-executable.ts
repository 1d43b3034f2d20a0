import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

/** Where a command was found, or why it cannot run, with the shell's exit code (127 not found, 126 not executable). */
export type ResolvedExecutable =
  | { readonly ok: true; readonly file: string }
  | { readonly ok: false; readonly exitCode: 126 | 127; readonly message: string };

/** True when `file` is a regular file this user may execute. */
function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds `command` as `execvp` would: a name with a slash is a path (relative to `cwd`), any other
 * name is looked up in each PATH directory in order (an empty entry means `cwd`). execve(2) needs
 * the full path, and resolving first turns "not found" into a clear message instead of a crash.
 */
export function resolveExecutable(
  command: string,
  searchPath: string | undefined,
  cwd: string,
): ResolvedExecutable {
  if (command === '') return { ok: false, exitCode: 127, message: 'the command is empty' };
  if (command.includes('/')) {
    const file = path.resolve(cwd, command);
    if (isExecutableFile(file)) return { ok: true, file };
    let exists = false;
    try {
      exists = statSync(file).isFile();
    } catch {
      // missing: reported below
    }
    return exists
      ? { ok: false, exitCode: 126, message: `${command} is not executable (chmod +x it)` }
      : { ok: false, exitCode: 127, message: `${command} does not exist` };
  }
  // Without PATH, search where execvp(3) does by default.
  const dirs = (searchPath ?? '/bin:/usr/bin').split(path.delimiter);
  let notExecutable: string | undefined;
  for (const dir of dirs) {
    const file = path.resolve(cwd, dir, command);
    if (isExecutableFile(file)) return { ok: true, file };
    try {
      if (statSync(file).isFile()) notExecutable ??= file;
    } catch {
      // not in this directory
    }
  }
  if (notExecutable) {
    return {
      ok: false,
      exitCode: 126,
      message: `${notExecutable} is not executable (chmod +x it)`,
    };
  }
  return {
    ok: false,
    exitCode: 127,
    message: `${command} was not found on PATH (${dirs.join(path.delimiter) || 'PATH is empty'})`,
  };
}
