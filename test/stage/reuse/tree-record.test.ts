// The names the next resolution starts fetching at once (resolve-prefetch.ts's seeds): every package of
// the newest earlier release's tree record, scoped and nested ones included, each name once; an earlier
// release without a record is passed over, none at all gives no names (the crawl alone then).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TREE_RECORD, recordedNames } from '../../../src/stage/reuse/tree-record.ts';
import { layoutOf } from '../../../src/store/layout.ts';
import { tempDir } from '../../support/cli.ts';

function release(root: string, version: string, packages?: Record<string, unknown>): void {
  const dir = join(root, 'releases', version);
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  if (packages) writeFileSync(join(dir, TREE_RECORD), JSON.stringify({ lockfileVersion: 3, packages }));
}

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
