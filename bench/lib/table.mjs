// The printed results: one Markdown table of medians, then each target and whether it holds.

const ms = (value) =>
  value === undefined
    ? 'n/a'
    : value >= 10_000
      ? `${(value / 1000).toFixed(1)} s`
      : `${Math.round(value)} ms`;
const mib = (kib) => (kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(1)} MiB`);
const ratio = (row) => (row.floor ? `${(row.ms / row.floor).toFixed(2)}× ${row.floorName}` : '');
const trips = (t) => (t === undefined ? '' : `${t.queries} + ${t.connections} conn`);

/** The table of every measured row, as Markdown. */
export function formatTable(rows) {
  const head = [
    'scenario',
    'median wall',
    'vs floor',
    'peak RSS (median / max)',
    'round trips',
    'samples (ms)',
  ];
  const lines = rows.map((row) => [
    row.name,
    ms(row.ms),
    ratio(row),
    row.rssKiB === undefined ? 'n/a' : `${mib(row.rssKiB)} / ${mib(row.maxRssKiB)}`,
    trips(row.trips),
    (row.samples ?? []).join(' '),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [
    format(head),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...lines.map(format),
  ].join('\n');
}

/** Each benchmark target with its measured value and whether it holds; `results` for JSON. */
export function formatTargets(rows) {
  const get = (key) => rows.find((r) => r.key === key);
  const results = [];
  const add = (name, measured, holds) => results.push({ name, measured, holds });
  const noop = get('noop');
  const shipped = get('noop-shipped');
  const cold = get('cold');
  const verify = get('verify');
  const noopFull = get('noop-full');
  const verifyFull = get('verify-full');
  const verifyFresh = get('verify-fresh');
  if (noop?.floor)
    add(
      'no-op run ≤ 1.0× the node + pg select 1 floor',
      `${(noop.ms / noop.floor).toFixed(2)}× (${ms(noop.ms)} vs ${ms(noop.floor)})` +
        (noopFull ? `; with --full-verify ${(noopFull.ms / noop.floor).toFixed(2)}×` : ''),
      noop.ms <= noop.floor,
    );
  if (cold) {
    if (cold.floor)
      add(
        'cold apply ≤ 1.5× psql -1 -f',
        `${(cold.ms / cold.floor).toFixed(2)}× (${ms(cold.ms)} vs ${ms(cold.floor)})`,
        cold.ms <= 1.5 * cold.floor,
      );
    else add('cold apply ≤ 1.5× psql -1 -f', 'psql not found: not measured', undefined);
  }
  if (verify)
    add(
      'verify at scale ≤ 0.5 s wall, catalog unchanged since the last run',
      ms(verify.ms),
      verify.ms <= 500,
    );
  // The first verification of a database (no run has recorded one yet) reads the whole catalog:
  // judged on its own line, with --full-verify (the same read, asked for) beside it.
  if (verifyFresh)
    add(
      'verify at scale ≤ 0.5 s wall, the first verification (nothing recorded yet)',
      ms(verifyFresh.ms) + (verifyFull ? `; with --full-verify ${ms(verifyFull.ms)}` : ''),
      verifyFresh.ms <= 500,
    );
  if (noop)
    add(
      'no-op peak RSS ≤ 60 MiB (max of the runs)',
      mib(noop.maxRssKiB),
      noop.maxRssKiB === undefined ? undefined : noop.maxRssKiB <= 60 * 1024,
    );
  if (noop?.trips && shipped?.trips) {
    const same =
      noop.trips.queries === shipped.trips.queries &&
      noop.trips.connections === shipped.trips.connections;
    add(
      'no-op round trips fixed, whatever the number of migrations and tables',
      `${trips(noop.trips)} with ${noop.name.match(/\d+/)?.[0]} migrations, ${trips(shipped.trips)} with 12`,
      same,
    );
  }
  const mark = (holds) => (holds === undefined ? '?' : holds ? '✓' : '✗');
  const text = [
    'Targets:',
    ...results.map((r) => `  ${mark(r.holds)} ${r.name}: ${r.measured}`),
  ].join('\n');
  return { text, results };
}
