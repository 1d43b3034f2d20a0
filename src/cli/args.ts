import { UsageError } from '../errors.js';

export const COMMANDS = [
  'run',
  'migrate',
  'seed',
  'verify',
  'status',
  'snapshot',
  'resolve',
  'baseline',
  'new',
  'help',
] as const;
export type CommandName = (typeof COMMANDS)[number];

/** Flags that take a value, with the commands that accept them ('*' = every command). */
export const VALUE_FLAGS = {
  'database-url': '*',
  'ca-cert': '*',
  migrations: '*',
  seeds: '*',
  expect: '*',
  wait: '*',
  'lock-timeout': '*',
  'ddl-lock-timeout': '*',
  'statement-timeout': '*',
  deadline: '*',
  'log-level': '*',
  'log-format': '*',
  report: '*',
  out: ['snapshot'],
  applied: ['resolve'],
  'rolled-back': ['resolve'],
  to: ['baseline'],
} as const satisfies Record<string, '*' | readonly CommandName[]>;

export const BOOLEAN_FLAGS = {
  help: '*',
  version: '*',
  strict: ['run', 'verify', 'status'],
  'full-verify': ['run', 'verify', 'status'],
  'from-migrations': ['snapshot'],
  check: ['snapshot'],
} as const satisfies Record<string, '*' | readonly CommandName[]>;

export type ValueFlag = keyof typeof VALUE_FLAGS;
export type BooleanFlag = keyof typeof BOOLEAN_FLAGS;

/** The command line, parsed but not yet validated against the environment. */
export interface ParsedArgs {
  readonly command: CommandName;
  readonly flags: Readonly<Partial<Record<ValueFlag, string>>>;
  readonly switches: Readonly<Partial<Record<BooleanFlag, true>>>;
  readonly positionals: readonly string[];
  /** Everything after `--`: the app to start after a successful run. */
  readonly exec: readonly string[];
}

function accepts(scope: '*' | readonly CommandName[], command: CommandName): boolean {
  return scope === '*' || scope.includes(command);
}

/** Parses argv (without node and script); throws UsageError naming the bad word. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const dashDash = argv.indexOf('--');
  const words = dashDash === -1 ? [...argv] : argv.slice(0, dashDash);
  const exec = dashDash === -1 ? [] : argv.slice(dashDash + 1);
  const flags: Partial<Record<ValueFlag, string>> = {};
  const switches: Partial<Record<BooleanFlag, true>> = {};
  const positionals: string[] = [];
  let command: CommandName | undefined;
  const pending: Array<{ name: string; scope: '*' | readonly CommandName[] }> = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    if (word === '-h') {
      switches.help = true;
    } else if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      const name = eq === -1 ? word.slice(2) : word.slice(2, eq);
      if (name in VALUE_FLAGS) {
        const value = eq === -1 ? words[++i] : word.slice(eq + 1);
        // The next word is the value unless it is a flag: PEM text (`-----BEGIN`) is a value.
        if (value === undefined || (eq === -1 && (value === '--' || /^--[a-z]/i.test(value)))) {
          throw new UsageError(`flag --${name} needs a value, e.g. --${name}=VALUE`);
        }
        flags[name as ValueFlag] = value;
        pending.push({ name, scope: VALUE_FLAGS[name as ValueFlag] });
      } else if (name in BOOLEAN_FLAGS) {
        if (eq !== -1)
          throw new UsageError(`flag --${name} takes no value (got ${JSON.stringify(word)})`);
        switches[name as BooleanFlag] = true;
        pending.push({ name, scope: BOOLEAN_FLAGS[name as BooleanFlag] });
      } else {
        throw new UsageError(
          `unknown flag ${JSON.stringify(word.split('=')[0])}; see \`preflight --help\``,
        );
      }
    } else if (word.startsWith('-') && word.length > 1) {
      throw new UsageError(`unknown flag ${JSON.stringify(word)}; see \`preflight --help\``);
    } else if (command === undefined && positionals.length === 0) {
      if (!(COMMANDS as readonly string[]).includes(word)) {
        throw new UsageError(
          `unknown command ${JSON.stringify(word)}; commands: ${COMMANDS.filter((c) => c !== 'help').join(', ')}`,
        );
      }
      command = word as CommandName;
    } else {
      positionals.push(word);
    }
  }
  const resolved = command ?? 'run';
  for (const { name, scope } of pending) {
    if (!accepts(scope, resolved)) {
      throw new UsageError(`flag --${name} does not apply to \`preflight ${resolved}\``);
    }
  }
  checkArity(resolved, positionals, exec, dashDash !== -1);
  return { command: resolved, flags, switches, positionals, exec };
}

function checkArity(
  command: CommandName,
  positionals: readonly string[],
  exec: readonly string[],
  hasDashDash: boolean,
): void {
  const maxPositionals = command === 'new' || command === 'help' ? 1 : 0;
  if (positionals.length > maxPositionals) {
    throw new UsageError(
      `unexpected argument ${JSON.stringify(positionals[maxPositionals])} for \`preflight ${command}\`` +
        (command === 'run' ? '; to start an app after the run, put it after `--`' : ''),
    );
  }
  if (hasDashDash && command !== 'run') {
    throw new UsageError(`only \`preflight run\` starts an app after \`--\``);
  }
  if (hasDashDash && exec.length === 0) {
    throw new UsageError(
      'nothing after `--`: give the app to start, e.g. `preflight run -- node server.js`',
    );
  }
}
