// Where our install spent its time, from the CLI's progress log on stderr (not a TTY): lines of the form
// `[HH:MM:SS.mmm] phase: message`.
//
// The stager's phases do not follow each other in a fixed order: resolution runs in a child while the
// package is downloaded and extracted, most phases report once, when they are done, and a phase can
// report again later (a 'scripts' notice right after resolution, the dependency scripts' summary near
// the end). Reading the log as "a phase lasts until the next one reports" then gives a phase the time
// of whatever ran before it and names spans after the wrong phase. So each phase is described only by
// its own events: the offset (seconds from the first progress line) of its first and of its last
// event. A phase that reports once shows a single offset; overlapping phases show overlapping spans.

const LINE = /^\[(\d\d):(\d\d):(\d\d\.\d+)\] ([a-z][a-z-]*): /;

/**
 * Spans of each phase in a progress log: `{phases: {name: {first, last, events}}, total}`, offsets in
 * seconds from the first progress line; `total` is the offset of the last one. Lines that are not
 * progress lines (npm's own output, warnings) are ignored; a log that crosses midnight is unwrapped.
 * Given the run's start (`startedAtMs`, wall clock) and length (`seconds`), it also tells the time
 * before the first progress line (`lead`: process start, session, lock) and after the last one
 * (`tail`: rename into releases/, journal, exit).
 */
export function phaseSpans(stderr, run) {
  const phases = {};
  let start;
  let previous;
  let offset = 0;
  for (const line of stderr.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    let t = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
    if (previous !== undefined && t + offset < previous - 43_200) offset += 86_400;
    t += offset;
    previous = t;
    start ??= t;
    const at = round(t - start);
    phases[m[4]] ??= { first: at, last: at, events: 0 };
    const phase = phases[m[4]];
    phase.last = at;
    phase.events++;
  }
  const total = start === undefined ? 0 : round(previous - start);
  if (!run || start === undefined) return { phases, total };
  // Progress timestamps are UTC times of day (toISOString); the run's start, as one, may be a day behind.
  let lead = (start - (run.startedAtMs % 86_400_000) / 1000) % 86_400;
  if (lead < -43_200) lead += 86_400;
  if (lead > 43_200) lead -= 86_400;
  return { phases, total, lead: round(lead), tail: round(run.seconds - lead - total) };
}

const round = (x) => Math.round(x * 1000) / 1000;

/**
 * One summary over several runs' spans: phases in the order of their (median) first event, each as
 * `name first-last` (or `name @first` when it reported once), offsets the median over the runs that had
 * the phase, and how many of the runs had it when not all did.
 */
export function formatPhaseSpans(runs, median) {
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.phases)))];
  const rows = names.map((name) => {
    const had = runs.filter((r) => r.phases[name]);
    const first = median(had.map((r) => r.phases[name].first));
    const last = median(had.map((r) => r.phases[name].last));
    const span = first === last ? `@${first.toFixed(2)}` : `${first.toFixed(2)}-${last.toFixed(2)}`;
    return {
      name,
      first,
      text: `${name} ${span}${had.length < runs.length ? ` (${had.length}/${runs.length} runs)` : ''}`,
    };
  });
  rows.sort((a, b) => a.first - b.first || a.name.localeCompare(b.name));
  const total = median(runs.map((r) => r.total));
  const around = runs.every((r) => r.lead !== undefined)
    ? `; before the first event ${median(runs.map((r) => r.lead)).toFixed(2)}, after the last ${median(runs.map((r) => r.tail)).toFixed(2)}`
    : '';
  return `${rows.map((r) => r.text).join(', ')}; last event @${total.toFixed(2)}${around}`;
}

/**
 * Where an install's packages came from, from its progress log and its result's `reused`: whether the
 * resolution was kept from an earlier one, how many dependencies were linked from the previous release, from
 * the root's store, or extracted from npm's cache (the package itself is always unpacked from its tarball).
 */
export function sourcesOf(stderr, reused) {
  const count = (re) => Number(re.exec(stderr)?.[1] ?? 0);
  return {
    resolution: /resolved with Node [^\n]*kept from an earlier resolution/.test(stderr)
      ? 'kept'
      : /dependencies resolved with Node/.test(stderr)
        ? 'resolved'
        : 'not reported',
    previous: count(/reuse: (\d+) packages \(\d+ files, \d+ bytes\) linked from releases\//),
    store: reused?.store?.packages ?? 0,
    storeFiles: reused?.store?.files ?? 0,
    extracted: count(/extract: (\d+) new packages extracted from the npm cache/),
  };
}
