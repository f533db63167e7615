// The names the next resolution starts fetching at once (resolve-prefetch.ts's seeds): every package of
// the newest earlier release's tree record, scoped and nested ones included, each name once; an earlier
// release without a record is passed over, none at all gives no names (the crawl alone then).
// The release the next staging links from (previousRelease): the newest with a record, whose packages are taken as they
// are recorded; without any, the newest with a marker (an adopted release: npm install -g keeps no hidden lockfile in
// the package), with no package taken as unchanged, so only files its manifest holds byte for byte are linked.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TREE_RECORD, previousRelease, recordedNames } from '../../../src/stage/reuse/tree-record.ts';
import { layoutOf } from '../../../src/store/layout.ts';
import { tempDir } from '../../support/cli.ts';

function release(root: string, version: string, packages?: Record<string, unknown>, marked = false): void {
  const dir = join(root, 'releases', version);
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  if (packages) writeFileSync(join(dir, TREE_RECORD), JSON.stringify({ lockfileVersion: 3, packages }));
  if (marked) writeFileSync(layoutOf(root).marker(version), JSON.stringify(marker(version)));
}

/** A release marker as far as previousRelease reads it: its version, manifest and Node. */
const marker = (version: string) => ({
  version,
  files: [{ path: 'index.js', type: 'file', sha256: 'a'.repeat(64), size: 3, mode: 0o444 }],
  node: { version: 'v24.0.0' },
});

describe('recordedNames', () => {
  it("lists the newest recorded release's package names, each once", async () => {
    const root = tempDir('rs-tree-record-');
    release(root, '1.2.0'); // no record (adopted, or a full install): passed over
    release(root, '1.1.0', {
      'node_modules/express': { version: '4.21.2' },
      'node_modules/@types/node': { version: '22.0.0' },
      'node_modules/send/node_modules/debug': { version: '2.6.9' },
      'node_modules/debug': { version: '4.4.0' },
      'node_modules/@scope/a/node_modules/@scope/b': { version: '1.0.0' },
    });
    release(root, '1.0.0', { 'node_modules/left-pad': { version: '1.0.0' } });
    const names = await recordedNames(layoutOf(root), ['1.2.0', '1.1.0', '1.0.0']);
    expect(names.sort()).toEqual(['@scope/b', '@types/node', 'debug', 'express']);
  });

  it('gives no names without an earlier release that has a record', async () => {
    const root = tempDir('rs-tree-record-');
    release(root, '1.0.0');
    expect(await recordedNames(layoutOf(root), ['1.0.0', '0.9.0'])).toEqual([]);
  });
});

describe('previousRelease', () => {
  it('takes the newest release with a tree record, its packages as recorded, over a newer one without', async () => {
    const root = tempDir('rs-tree-record-');
    release(root, '1.2.0', undefined, true); // adopted: no record
    release(root, '1.1.0', { 'node_modules/debug': { version: '4.4.0', integrity: 'sha512-x' } }, true);
    const previous = await previousRelease(layoutOf(root), ['1.2.0', '1.1.0']);
    expect(previous).toMatchObject({
      dir: layoutOf(root).release('1.1.0'),
      node: 'v24.0.0',
      packages: { 'node_modules/debug': { version: '4.4.0', integrity: 'sha512-x' } },
    });
    expect(previous!.files.map((f) => f.path)).toEqual(['index.js']);
  });

  it('without any record, the newest marked release, no package unchanged: its files linkable by content only', async () => {
    const root = tempDir('rs-tree-record-');
    release(root, '1.3.0'); // no marker: not a release
    release(root, '1.2.0', undefined, true);
    release(root, '1.1.0', undefined, true);
    const previous = await previousRelease(layoutOf(root), ['1.3.0', '1.2.0', '1.1.0']);
    expect(previous).toMatchObject({ dir: layoutOf(root).release('1.2.0'), packages: {}, immutable: false });
    expect(previous!.files.map((f) => f.path)).toEqual(['index.js']);
  });

  it('none without a marked earlier release', async () => {
    const root = tempDir('rs-tree-record-');
    release(root, '1.0.0', { 'node_modules/debug': { version: '4.4.0' } }); // a record, but no marker
    expect(await previousRelease(layoutOf(root), ['1.0.0', '0.9.0'])).toBeUndefined();
  });
});
