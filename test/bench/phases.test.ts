// The bench's phase summary (bench/lib/phases.mjs) read from a real progress log's shape: resolution overlaps
// download and extraction, most phases report once when done, and 'scripts' reports twice, once in the middle.
import { describe, expect, it } from 'vitest';
// @ts-expect-error a bench helper in plain JS
import { formatPhaseSpans, phaseSpans } from '../../bench/lib/phases.mjs';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const LOG = `[23:59:58.000] resolve: resolving app@2
[23:59:58.900] download: fetching app@2 from http://127.0.0.1:1/app/-/app-2.tgz
npm warn something that is not a progress line: 12
[23:59:59.000] download: fetched, integrity sha512-…
[23:59:59.100] extract: extracted 16/16 files
[00:00:01.000] resolve: 71 dependencies resolved with Node v24.1.0
[00:00:01.010] scripts: install scripts not covered by allow-scripts (npm install -g runs them too, with a notice): esbuild
[00:00:02.500] reuse: 60 packages (600 files, 1 bytes) linked from releases/1
[00:00:02.501] extract: 11 new packages extracted from the npm cache (26 files)
[00:00:03.000] scripts: ran esbuild postinstall
[00:00:03.100] lifecycle: no lifecycle scripts
[00:00:03.200] seal: sealed 779 entries
`;

describe('phaseSpans', () => {
  it('names each phase by its own first and last event (not by what reported next), across midnight, ignoring other lines', () => {
    const { phases, total } = phaseSpans(LOG);
    expect(total).toBe(5.2);
    expect(phases.resolve).toEqual({ first: 0, last: 3, events: 2 });
    expect(phases.download).toEqual({ first: 0.9, last: 1, events: 2 });
    expect(phases.extract).toEqual({ first: 1.1, last: 4.501, events: 2 });
    // The notice in the middle and the summary at the end: one span, and no other phase's time is charged to it.
    expect(phases.scripts).toEqual({ first: 3.01, last: 5, events: 2 });
    expect(phases.reuse).toEqual({ first: 4.5, last: 4.5, events: 1 });
    expect(phases.seal).toEqual({ first: 5.2, last: 5.2, events: 1 });
    expect(Object.keys(phases).sort()).toEqual([
      'download',
      'extract',
      'lifecycle',
      'resolve',
      'reuse',
      'scripts',
      'seal',
    ]);
  });

  it('given the run (wall-clock start, length), tells the time before the first and after the last progress line', () => {
    const run = { startedAtMs: Date.UTC(2026, 10, 22, 23, 59, 57, 500), seconds: 6 };
    expect(phaseSpans(LOG, run)).toMatchObject({ total: 5.2, lead: 0.5, tail: 0.3 });
    // Started just after midnight UTC by the clock of the run, a log stamped just before it (clock skew) still reads.
    expect(phaseSpans(LOG, { startedAtMs: Date.UTC(2026, 10, 23, 0, 0, 0, 0), seconds: 4 })).toMatchObject({
      lead: -2,
    });
    expect(formatPhaseSpans([phaseSpans(LOG, run)], median)).toMatch(
      /; before the first event 0\.50, after the last 0\.30$/,
    );
  });

  it('summarises runs in order of first event, with single events as @offset and phases missing from some runs counted', () => {
    const a = phaseSpans(LOG);
    const b = phaseSpans(LOG.replace(/^.*scripts: install scripts.*\n/m, ''));
    const line = formatPhaseSpans([a, a, b], median);
    expect(line).toBe(
      'resolve 0.00-3.00, download 0.90-1.00, extract 1.10-4.50, scripts 3.01-5.00, reuse @4.50, lifecycle @5.10, seal @5.20; last event @5.20',
    );
    const c = phaseSpans(LOG.replace(/^.*reuse: .*\n/m, ''));
    expect(formatPhaseSpans([a, c], median)).toContain('reuse @4.50 (1/2 runs)');
  });
});
