const COLORS: Record<string, string> = {
  trace: '\x1b[90m',
  debug: '\x1b[90m',
  info: '\x1b[36m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
  fatal: '\x1b[41m',
};
const RESET = '\x1b[0m';
const HIDDEN = new Set(['level', 'time', 'app', 'msg', 'event', 'pid', 'hostname']);

/** Turns one pino JSON line into `12:00:01 INFO  migration.applied  0003_x.sql  durationMs=12`. */
export function formatPrettyLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = String(entry.level ?? 'info');
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 19) : '';
  const extras = Object.entries(entry)
    .filter(([key, value]) => !HIDDEN.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  const color = COLORS[level] ?? '';
  const head = `${time} ${color}${level.toUpperCase().padEnd(5)}${RESET}`;
  const event = entry.event ? ` ${String(entry.event)}` : '';
  const msg = entry.msg ? `  ${String(entry.msg)}` : '';
  return `${head}${event}${msg}${extras ? `  \x1b[90m${extras}${RESET}` : ''}\n`;
}
