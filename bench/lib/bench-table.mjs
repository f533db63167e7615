// One table for a bench's sides and peers: each row a side (npm's anchor, each case of ours, each peer) with
// its median, spread, ratios to npm and pnpm, its goals, peak RSS and the load average around its runs. The
// rows are plain objects so that a bench saves them in its JSON and bench/store-cases.mjs prints the rows of
// several invocations as one table.
import { fmt, median } from './measure.mjs';

/**
 * A row from a side's timed runs (each {seconds, maxRssKiB, peakTreeRssKiB, load: [before, after]}).
 * `goals`: [{what, value, limit}] checked here; `note`: anything else the row should say.
 */
export function tableRow(what, runs, { anchorSeconds, pnpmSeconds, goals = [], note = '' } = {}) {
  const seconds = runs.map((r) => r.seconds);
  const s = seconds.length ? median(seconds) : Number.NaN;
  const rss = (key) => {
    const values = runs.map((r) => r[key]).filter((v) => Number.isFinite(v));
    return values.length ? median(values) : null;
  };
  const loads = runs.flatMap((r) => r.load ?? []);
  return {
    what,
    runs: runs.length,
    seconds: s,
    min: seconds.length ? Math.min(...seconds) : Number.NaN,
    max: seconds.length ? Math.max(...seconds) : Number.NaN,
    vsNpm: s / anchorSeconds,
    vsPnpm: s / pnpmSeconds,
    goals: goals.map((g) => ({ ...g, met: Number.isFinite(g.value) ? g.value <= g.limit : null })),
    treeRssKiB: rss('peakTreeRssKiB'),
    maxRssKiB: rss('maxRssKiB'),
    loadMin: loads.length ? Math.min(...loads) : null,
    loadMax: loads.length ? Math.max(...loads) : null,
    note,
  };
}

const goalText = (goals) =>
  goals.length
    ? goals.map((g) => `${g.what} ${g.met === null ? 'n/a' : g.met ? 'meets' : 'MISSES'} <= ${g.limit}`).join('; ')
    : '-';

/** The rows as aligned text; `prefix` (optional, per row) names the invocation a row came from. */
export function formatTable(rows) {
  const header = ['side', 'median', 'spread', 'runs', '/npm', '/pnpm', 'goals', 'peak RSS tree / 1 proc', 'load 1-min'];
  const cells = rows.map((r) => [
    r.prefix ? `${r.prefix}: ${r.what}` : r.what,
    Number.isFinite(r.seconds) ? fmt.s(r.seconds) : 'n/a',
    Number.isFinite(r.min) ? `${r.min.toFixed(2)}-${r.max.toFixed(2)}` : '-',
    String(r.runs),
    fmt.ratio(r.vsNpm),
    fmt.ratio(r.vsPnpm),
    goalText(r.goals),
    `${fmt.kibAsMib(r.treeRssKiB)} / ${fmt.kibAsMib(r.maxRssKiB)}`,
    r.loadMin === null ? '-' : `${r.loadMin.toFixed(2)}-${r.loadMax.toFixed(2)}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) =>
    c
      .map((v, i) => v.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  const notes = rows.filter((r) => r.note).map((r) => `  ${r.prefix ? `${r.prefix}: ` : ''}${r.what}: ${r.note}`);
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line), ...notes].join('\n');
}
