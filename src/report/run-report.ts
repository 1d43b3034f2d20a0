import type { Conflict, Layout } from '../migrations/types.js';
import type { Category, Finding } from './findings.js';

/** What one seed file did. */
export interface SeedFileResult {
  readonly file: string;
  readonly inserted: number;
  readonly updated: number;
}

/** The facts of one command's run: what the human report, the JSON report and the termination log say. */
export interface RunReport {
  command: string;
  database?: string;
  startedAt: string;
  durationMs?: number;
  exitCode?: number;
  migrations?: {
    layout: Layout;
    total: number;
    alreadyApplied: number;
    appliedNow: Array<{ name: string; durationMs: number; mode: string }>;
    pending: string[];
    conflicts: Conflict[];
  };
  seeds?: { skipped?: string; files: SeedFileResult[] };
  verification?: {
    skipped?: string;
    findings: Finding[];
    checked: number;
    /** Objects checked per category (tables, columns, ..., system data rows, assertions). */
    checkedBy?: Partial<Record<Category, number>>;
    /**
     * How the schema was checked: `catalog` (read and compared), or `fingerprint` (the catalog is
     * exactly the one that passed the full verification of `verifiedAt`, against the same file).
     */
    method?: 'catalog' | 'fingerprint';
    verifiedAt?: string;
  };
  /** The step running now: decides the exit code when the deadline passes. */
  phase?: 'connect' | 'lock' | 'migrate' | 'seed' | 'verify';
  warnings: string[];
  error?: { code: string; exitCode: number; message: string };
}

/** A fresh report for a command starting now. */
export function newReport(command: string): RunReport {
  return { command, startedAt: new Date().toISOString(), warnings: [] };
}
