// What issue 36's bench cases read and print (bench/stage-vs-npm.mjs --cases, bench/store-cases.mjs): where a
// staging's packages came from, read from a real progress log (the bench says a case measured what it claims
// only through this), the one table of every side, and what a root's store holds of its own.
import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error a bench helper in plain JS
import { formatTable, tableRow } from '../../bench/lib/bench-table.mjs';
// @ts-expect-error a bench helper in plain JS
import { storeHolding } from '../../bench/lib/measure.mjs';
// @ts-expect-error a bench helper in plain JS
import { sourcesOf } from '../../bench/lib/phases.mjs';

// The store case on express 4.21.1 -> 4.21.2, as the CLI logged it.
const STORE_CASE = `[15:13:13.863] resolve: resolving express@4.21.2
[15:13:14.199] resolve: 71 dependencies resolved with Node v24.21.0 (kept from an earlier resolution, 70 packuments unchanged, 172 ms)
[15:13:14.199] reuse: placing 71 dependencies while the package unpacks
[15:13:14.199] extract: extracted 16/16 files
[15:13:14.322] reuse: 1 packages (4 files, 6598 bytes) linked from the store
[15:13:14.323] reuse: 70 packages (622 files, 2000008 bytes) linked from releases/4.21.1 1.9 MiB/1.9 MiB
[15:13:14.323] extract: 0 new packages extracted from the npm cache (0 files; 0 of them, 0 bytes, identical to the previous release and linked to it; 0 packages fetched into it while the tree resolved) 0.0 MiB
`;

describe('sourcesOf', () => {
  it('tells the packages from the previous release, the store and npm cache apart, and a kept resolution', () => {
    const reused = {
      packages: 71,
      files: 626,
      bytes: 2006606,
      store: { packages: 1, files: 4, bytes: 6598, copied: 0 },
    };
    expect(sourcesOf(STORE_CASE, reused)).toEqual({
      resolution: 'kept',
      previous: 70,
      store: 1,
      storeFiles: 4,
      extracted: 0,
    });
  });

  it('says resolved when arborist ran, and nothing from a store it did not use', () => {
    const log = `[10:00:00.000] resolve: 71 dependencies resolved with Node v24.21.0 (in a child, arborist 2100 ms, 70 packuments prefetched)
[10:00:02.000] reuse: 70 packages (622 files, 2000008 bytes) linked from releases/4.21.1
[10:00:02.100] extract: 1 new packages extracted from the npm cache (4 files; 2 of them, 100 bytes, identical to the previous release and linked to it; 1 packages fetched into it while the tree resolved)
`;
    expect(sourcesOf(log, { packages: 70, files: 622, bytes: 2000008 })).toEqual({
      resolution: 'resolved',
      previous: 70,
      store: 0,
      storeFiles: 0,
      extracted: 1,
    });
  });
});

describe('the table of every side', () => {
  const run = (seconds: number, load: number) => ({
    seconds,
    maxRssKiB: 100 * 1024,
    peakTreeRssKiB: 120 * 1024,
    load: [load, load + 0.1],
  });

  it('gives medians, spread, ratios to npm and pnpm, and marks the goals', () => {
    const row = tableRow('ours [store]', [run(1.2, 1), run(1.0, 2), run(3.0, 3)], {
      anchorSeconds: 10,
      pnpmSeconds: 0.5,
      goals: [
        { what: 's', value: 1.2, limit: 1.5 },
        { what: 'ours/pnpm', value: 2.4, limit: 2 },
      ],
    });
    expect(row).toMatchObject({ runs: 3, seconds: 1.2, min: 1.0, max: 3.0, loadMin: 1, loadMax: 3.1 });
    expect(row.vsNpm).toBeCloseTo(0.12);
    expect(row.vsPnpm).toBeCloseTo(2.4);
    expect(row.goals.map((g: { met: boolean }) => g.met)).toEqual([true, false]);
    const text = formatTable([{ ...row, prefix: 'openclaw', note: 'from the store' }]);
    expect(text).toContain('openclaw: ours [store]');
    expect(text).toContain('s meets <= 1.5; ours/pnpm MISSES <= 2');
    expect(text).toContain('120 MiB / 100 MiB');
    expect(text).toContain('openclaw: ours [store]: from the store');
  });
});

describe('storeHolding', () => {
  let root: string;
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('counts the files the store shares with a release apart from those nothing else links', () => {
    root = mkdtempSync(join(tmpdir(), 'rs-store-holding-'));
    mkdirSync(join(root, 'store', 'files', 'ab'), { recursive: true });
    mkdirSync(join(root, 'store', 'index', 'cd'), { recursive: true });
    mkdirSync(join(root, 'releases', '1'), { recursive: true });
    const linked = join(root, 'store', 'files', 'ab', `${'a'.repeat(64)}-444`);
    writeFileSync(linked, 'x'.repeat(10));
    linkSync(linked, join(root, 'releases', '1', 'file'));
    writeFileSync(join(root, 'store', 'files', 'ab', `${'b'.repeat(64)}-444`), 'y'.repeat(5));
    writeFileSync(join(root, 'store', 'index', 'cd', `${'c'.repeat(64)}.json`), '{}');
    expect(storeHolding(root)).toEqual({
      files: 2,
      bytes: 15,
      unlinkedFiles: 1,
      unlinkedBytes: 5,
      indexes: 1,
      indexBytes: 2,
    });
  });

  it('is empty for a root without a store', () => {
    root = mkdtempSync(join(tmpdir(), 'rs-store-holding-'));
    expect(storeHolding(root)).toMatchObject({ files: 0, indexes: 0 });
  });
});
