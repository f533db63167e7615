// What recovery reads of releases/ on every mutation: a release the journal records is recognised by
// its marker file alone (never parsed: a large release's manifest is several MB); only a directory
// the journal does not know has its marker parsed, and then it must be a valid one.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { layoutOf } from '../../src/store/layout.ts';
import { scanReleaseDirs } from '../../src/store/release.ts';
import { tempDir } from '../support/cli.ts';

const marker = (version: string) =>
  JSON.stringify({
    layoutVersion: 1,
    name: 'app',
    version,
    integrity: null,
    source: 'test',
    installedAt: '2026-11-22T00:00:00.000Z',
    node: { path: 'node', version: 'v20' },
    size: 0,
    files: [],
  });

function releaseDir(root: string, name: string, markerText: string | undefined): void {
  const dir = join(root, 'releases', name);
  mkdirSync(dir, { recursive: true });
  if (markerText !== undefined) writeFileSync(join(dir, '.release-switcher.json'), markerText);
}

describe('scanReleaseDirs', () => {
  it('recognises recorded releases by their marker file without parsing it; parses only unrecorded ones', async () => {
    const root = tempDir();
    releaseDir(root, '1.0.0', 'not json: a recorded release is not parsed here');
    releaseDir(root, '1.1.0', undefined); // recorded, but its marker is gone: not a release
    releaseDir(root, '2.0.0', marker('2.0.0')); // killed after its rename, before the journal recorded it
    releaseDir(root, '2.1.0', '{"half'); // unrecorded and unparsable: not a release
    releaseDir(root, '2.2.0', marker('9.9.9')); // unrecorded, its marker names another version: not a release
    releaseDir(root, 'not-a-version', marker('not-a-version'));
    const scan = await scanReleaseDirs(layoutOf(root), { '1.0.0': {}, '1.1.0': {}, '3.0.0': {} });
    expect([...scan.complete].sort()).toEqual(['1.0.0', '2.0.0']);
    expect([...scan.unrecorded.keys()]).toEqual(['2.0.0']);
    expect(scan.unrecorded.get('2.0.0')?.source).toBe('test');
  });

  it('answers empty for a root without releases/', async () => {
    const scan = await scanReleaseDirs(layoutOf(tempDir()), { '1.0.0': {} });
    expect(scan.complete.size + scan.unrecorded.size).toBe(0);
  });
});
