// The order the suite's files start in (test/support/sequencer.ts): longest first by the committed table, inside
// vitest's own order of projects; unknown files first; sharding untouched. And the table's writer
// (scripts/test-durations.mjs): whole file times from a run's output, test spans from a JSON report, renames followed.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { currentName, measure } from '../scripts/test-durations.mjs';
import { DurationSequencer, longestFirst, readDurations } from './support/sequencer.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

/** What BaseSequencer and ours read of a specification and of vitest's context (no results cache: a fresh clone). */
const spec = (project: string, file: string, isolate = true) =>
  ({
    project: { name: project, config: { isolate, sequence: { groupOrder: 0 } } },
    moduleId: path.join(ROOT, file),
  }) as unknown as TestSpecification;
const freshClone = {
  config: { root: ROOT, shard: undefined },
  cache: { getFileTestResults: () => undefined, getFileStats: () => undefined },
};
const names = (specs: TestSpecification[]) => specs.map((s) => `${s.project.name} ${path.relative(ROOT, s.moduleId)}`);

describe('longest first', () => {
  it('orders each project by the table, unknown files first in the order given; projects keep their places', () => {
    const files = [
      { project: 'b', file: 'b1' },
      { project: 'b', file: 'b2' },
      { project: 'a', file: 'a1' },
      { project: 'a', file: 'new1' },
      { project: 'a', file: 'a2' },
      { project: 'a', file: 'new2' },
      { project: 'a', file: 'a3' },
    ];
    const table = { b1: 1, b2: 900, a1: 10, a2: 300, a3: 10 };
    expect(longestFirst(files, (f) => f, table).map((f) => f.file)).toEqual([
      'b2',
      'b1',
      'new1',
      'new2',
      'a2',
      'a1', // a tie keeps the order given
      'a3',
    ]);
    // Without a table, the order given stands.
    expect(longestFirst(files, (f) => f, {})).toEqual(files);
  });

  it("with the committed table on a fresh clone: the openclaw tier's longest files start first, the unit tier last and whole", async () => {
    const seconds = readDurations(ROOT);
    const openclaw = [
      'test/unit-files/external.openclaw.test.ts',
      'test/rehearsal/database-preflight.openclaw.test.ts',
      'test/snapshot/checkpoint.openclaw.test.ts',
      'test/transaction/finalize.openclaw.test.ts',
      'test/integrations/openclaw/plugin.openclaw.test.ts',
    ];
    for (const file of openclaw) expect(seconds[file], file).toBeGreaterThan(0);
    const specs = [
      spec('unit', 'test/docs.test.ts', false),
      ...openclaw.map((file) => spec('openclaw', file)),
      spec('unit', 'test/not-yet-measured.test.ts', false),
      spec('registry', 'test/api/tarball.registry.test.ts'),
      spec('registry', 'test/api/package-exports.registry.test.ts'),
    ];
    const sorted = await new DurationSequencer(freshClone as never).sort(specs);
    const byTable = (project: string) =>
      names(specs.filter((s) => s.project.name === project)).sort(
        (a, b) => seconds[b.split(' ')[1]!]! - seconds[a.split(' ')[1]!]!,
      );
    expect(names(sorted)).toEqual([
      ...byTable('openclaw'),
      ...byTable('registry'),
      'unit test/not-yet-measured.test.ts', // a new file: first of its project
      'unit test/docs.test.ts',
    ]);
    expect(names(sorted).slice(0, 2).sort()).toEqual([
      'openclaw test/integrations/openclaw/plugin.openclaw.test.ts',
      'openclaw test/transaction/finalize.openclaw.test.ts',
    ]);
    // Sharding is vitest's own.
    expect(DurationSequencer.prototype.shard).toBe(BaseSequencer.prototype.shard);
  });
});

describe('the table from earlier runs (scripts/test-durations.mjs)', () => {
  const files = new Set([
    'test/stage/fast.registry.test.ts',
    'test/docs.test.ts',
    'test/a.test.ts',
    'test/a.system.test.ts',
  ]);

  it("follows a file renamed to its tier's suffix by the project that ran it, from any checkout's path", () => {
    expect(currentName('test/stage/fast.test.ts', 'registry', files)).toBe('test/stage/fast.registry.test.ts');
    expect(currentName('/tmp/ci-x/release-switcher/test/docs.test.ts', 'unit', files)).toBe('test/docs.test.ts');
    // A unit and a system file of one stem: the project decides; without one (a JSON report) the name as it stands.
    expect(currentName('test/a.test.ts', 'system', files)).toBe('test/a.system.test.ts');
    expect(currentName('test/a.test.ts', undefined, files)).toBe('test/a.test.ts');
    expect(currentName('test/gone.test.ts', 'unit', files)).toBeUndefined();
  });

  it("takes a file's whole time (hooks included) from a run's output and only its tests' span from a JSON report", () => {
    const output = [
      ' \x1b[32m✓\x1b[39m \x1b[30m\x1b[46m openclaw \x1b[49m\x1b[39m test/transaction/finalize.openclaw.test.ts (3 tests) 1576935ms',
      ' ↓  openclaw  test/unit-files/pnpm-shape.openclaw.test.ts (1 test | 1 skipped)',
      '     ✓ a test inside (1 test) 5ms',
    ].join('\n');
    const fromOutput = measure(output);
    expect([...fromOutput.whole]).toEqual([['test/transaction/finalize.openclaw.test.ts', 1576.935]]);
    const report = {
      testResults: [{ name: `${ROOT}/test/docs.test.ts`, startTime: 1_000, endTime: 3_500 }],
    };
    expect([...measure(JSON.stringify(report)).testsOnly]).toEqual([['test/docs.test.ts', 2.5]]);
  });
});
