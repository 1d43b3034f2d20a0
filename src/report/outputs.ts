import { writeFileSync } from 'node:fs';
import { redactSecret } from '../config/database-url.js';
import type { RunReport } from './run-report.js';

/** Writes the JSON report file; the password is scrubbed from every string in it. */
export function writeJsonReport(
  file: string,
  report: RunReport,
  password: string | undefined,
): void {
  writeFileSync(file, `${redactSecret(JSON.stringify(report, null, 2), password)}\n`);
}

/** A one-paragraph summary of at most 4 KiB for Kubernetes' termination message. */
export function terminationSummary(report: RunReport): string {
  const m = report.migrations;
  const v = report.verification;
  const parts = [`preflight ${report.command} exit ${report.exitCode ?? 0}.`];
  if (m)
    parts.push(
      `Migrations: ${m.alreadyApplied + m.appliedNow.length}/${m.total} applied, ${m.pending.length} pending, ${m.conflicts.length} conflicts.`,
    );
  if (v && !v.skipped) {
    const errors = v.findings.filter((f) => f.severity === 'error');
    parts.push(`Verification: ${errors.length} problems.`);
    if (errors.length)
      parts.push(
        errors
          .slice(0, 20)
          .map((f) => f.message)
          .join('; ') + '.',
      );
  }
  if (report.error) parts.push(report.error.message.replace(/\s+/g, ' '));
  const text = parts.join(' ');
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length <= 4096
    ? text
    : `${bytes
        .subarray(0, 4090)
        .toString('utf8')
        .replace(/\uFFFD*$/, '')} ...`;
}

/** Writes the termination message where the file is writable (Kubernetes); silently skips elsewhere. */
export function writeTerminationLog(
  file: string,
  report: RunReport,
  password: string | undefined,
): void {
  try {
    writeFileSync(file, redactSecret(terminationSummary(report), password), { flag: 'r+' });
  } catch {
    // Not on Kubernetes (or not writable): nothing to do.
  }
}
