import { mkdirSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import type { CommandContext } from '../pipeline/context.js';
import { readMigrations } from '../migrations/source.js';

/** A name safe for a file: lowercase words joined by underscores. */
export function slugify(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/** The next flat version: one more than the highest, with the same zero padding (at least 4 digits). */
export function nextFlatVersion(versions: readonly string[]): string {
  if (versions.length === 0) return '0001';
  const highest = versions.reduce((a, b) => (BigInt(a) >= BigInt(b) ? a : b));
  const width = Math.max(4, ...versions.map((v) => v.length));
  return (BigInt(highest) + 1n).toString().padStart(width, '0');
}

/** A Prisma-style timestamp prefix, `YYYYMMDDHHMMSS`, in UTC. */
export function prismaTimestamp(now: Date): string {
  return now.toISOString().replace(/[-T:]/g, '').slice(0, 14);
}

/** `preflight new NAME`: creates the next migration file of the directory's layout. */
export async function newCommand(ctx: CommandContext): Promise<number> {
  const slug = slugify(ctx.config.name ?? '');
  if (!slug)
    throw new ConfigError([
      `migration name ${JSON.stringify(ctx.config.name)} has no letters or digits`,
    ]);
  const dir = ctx.config.migrations.path;
  mkdirSync(dir, { recursive: true });
  const set = readMigrations(dir);
  let target: string;
  if (set.layout === 'prisma') {
    target = path.join(dir, `${prismaTimestamp(new Date())}_${slug}`, 'migration.sql');
    mkdirSync(path.dirname(target), { recursive: true });
  } else {
    const versions = readdirSync(dir)
      .map((f) => /^(\d+)_.+\.sql$/.exec(f)?.[1])
      .filter((v): v is string => v !== undefined);
    target = path.join(dir, `${nextFlatVersion(versions)}_${slug}.sql`);
  }
  if (existsSync(target)) throw new ConfigError([`${target} already exists`]);
  writeFileSync(target, `-- ${slug.replace(/_/g, ' ')}\n`, { flag: 'wx' });
  ctx.logger.info(
    { event: 'new.created', file: path.relative(ctx.config.cwd, target) },
    `created ${path.relative(ctx.config.cwd, target)}`,
  );
  return 0;
}
