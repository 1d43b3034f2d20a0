import { tmpdir } from 'node:os';
import { parseArgs } from '../../src/cli/args.js';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { createLogger } from '../../src/log/logger.js';
import type { CommandContext } from '../../src/pipeline/context.js';
import { newReport } from '../../src/report/run-report.js';

/**
 * A command's context against `url`, as main builds it in `cwd` (its migrations and seeds, where
 * it has them), whose log lines (debug and up) are kept.
 */
export function commandContext(
  command: 'verify' | 'status',
  url: string,
  cwd = tmpdir(),
): { ctx: CommandContext; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const config = resolveConfig({
    args: parseArgs([command]),
    env: { DATABASE_URL: url },
    cwd,
    isTty: false,
  });
  const logger = createLogger({
    level: 'debug',
    format: 'json',
    destination: {
      write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>),
    },
  });
  const ctx = { config, logger, report: newReport(command), signal: new AbortController().signal };
  return { ctx, lines };
}
