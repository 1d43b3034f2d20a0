import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { TEST_PASSWORD } from './secrets.mjs';

// Every CLI invocation of the test suite is searched for the passwords it was given: its stdout,
// stderr, the --report file and the termination log. A hit fails runCli's caller at once, and
// the global teardown fails the run for startCli's (see global-teardown.mjs).

/** The passwords an invocation carries: in URLs of its arguments and environment, PGPASSWORD, TEST_PASSWORD. */
export function secretsOf(args: readonly string[], env: Record<string, string>): string[] {
  const found = new Set<string>([TEST_PASSWORD]);
  const texts = [...args, ...Object.values(env)];
  for (const text of texts) {
    for (const match of text.matchAll(/[a-z][a-z0-9+.-]*:\/\/([^:/?#@\s]*):([^@\s]*)@/gi)) {
      const raw = match[2] ?? '';
      found.add(raw);
      try {
        found.add(decodeURIComponent(raw));
      } catch {
        // not percent-encoded
      }
    }
  }
  if (env.PGPASSWORD) found.add(env.PGPASSWORD);
  // Words like `password` or `secret` are not secrets worth searching for: they appear in messages.
  return [...found].filter((s) => s.length >= 6 && !/^[a-z]{1,8}$/.test(s));
}

/** The --report file of an invocation, if any. */
export function reportFileOf(
  args: readonly string[],
  env: Record<string, string>,
  cwd: string,
): string | undefined {
  let file = env.PREFLIGHT_REPORT;
  args.forEach((arg, i) => {
    if (arg === '--report') file = args[i + 1];
    else if (arg.startsWith('--report=')) file = arg.slice('--report='.length);
  });
  return file ? path.resolve(cwd, file) : undefined;
}

/** A fresh, writable termination-log file (preflight writes it only where it exists). */
export function newTerminationLog(): string {
  const file = path.join(tmpdir(), `preflight-termination-${randomBytes(6).toString('hex')}.log`);
  writeFileSync(file, '');
  return file;
}

export interface Scan {
  /** Where a secret was found (never the secret itself). */
  readonly hits: string[];
  /** Whether the invocation was given a password (in a URL or PGPASSWORD). */
  readonly carried: boolean;
  readonly secrets: number;
  readonly bytes: number;
  readonly reports: number;
  readonly terminationLogs: number;
}

/** Searches an invocation's output and files for its secrets; records the scan in the ledger. */
export function scanInvocation(input: {
  args: readonly string[];
  env: Record<string, string>;
  cwd: string;
  output: string;
  terminationLog: string | undefined;
}): Scan {
  const secrets = secretsOf(input.args, input.env);
  // After `app.start` the output is the app's (`run -- CMD`): it may print its own environment.
  const appStart = input.output.indexOf('"event":"app.start"');
  const own =
    appStart === -1
      ? input.output
      : input.output.slice(0, input.output.indexOf('\n', appStart) + 1);
  const texts: Array<[string, string]> = [['stdout/stderr', own]];
  const report = reportFileOf(input.args, input.env, input.cwd);
  let reports = 0;
  let terminationLogs = 0;
  if (report && existsSync(report)) {
    texts.push(['the --report file', readFileSync(report, 'utf8')]);
    reports++;
  }
  if (input.terminationLog && existsSync(input.terminationLog)) {
    const text = readFileSync(input.terminationLog, 'utf8');
    if (text) terminationLogs++;
    texts.push(['the termination log', text]);
  }
  const hits: string[] = [];
  for (const [where, text] of texts) {
    secrets.forEach((secret, i) => {
      if (text.includes(secret))
        hits.push(`password #${i + 1} (${secret.length} chars) in ${where}`);
    });
  }
  // Given to preflight: in its arguments or the variables it reads (not the test's own TEST_*).
  const read = [input.env.DATABASE_URL, input.env.PREFLIGHT_DATABASE_URL].filter(
    (v): v is string => v !== undefined,
  );
  const given = [...input.args, ...read].some((t) =>
    /[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:[^@\s]+@/i.test(t),
  );
  const scan: Scan = {
    carried: given || Boolean(input.env.PGPASSWORD),
    hits: hits.map((h) => `${h} of \`preflight ${input.args.slice(0, 2).join(' ')}\``),
    secrets: secrets.length,
    bytes: texts.reduce((n, [, t]) => n + Buffer.byteLength(t), 0),
    reports,
    terminationLogs,
  };
  const ledger = process.env.PREFLIGHT_SECRETS_LEDGER;
  if (ledger)
    appendFileSync(path.join(ledger, `${process.pid}.jsonl`), `${JSON.stringify(scan)}\n`);
  return scan;
}

/** Removes a termination log made by newTerminationLog. */
export function removeTerminationLog(file: string | undefined): void {
  if (file) rmSync(file, { force: true });
}
