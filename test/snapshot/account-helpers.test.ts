// The pure parts of the account boundary (snapshot/state-side.ts): what mode a copy may get, what counts as sparse,
// where a manifest's copy is inside a handed folder, which descriptors a copier inherits; and, with this process's own
// rights, that a copy keeps holes and that a folder of ours planted as a link is refused.
import { mkdirSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { actsAsRootFor, handedDir } from '../../src/platform/as-account.ts';
import { copyFileDurably, isSparse, metaMode } from '../../src/snapshot/copy.ts';
import { handedThrough } from '../../src/snapshot/sqlite-copy.ts';
import { ownFolder, storedIn } from '../../src/snapshot/swap-account.ts';
import { tempDir } from '../support/cli.ts';

describe('the account boundary, pure parts', () => {
  it('a copy that ends up root’s never keeps setuid or setgid; another owner’s keeps its mode', () => {
    expect(metaMode(0o104755, 0).toString(8)).toBe('755');
    expect(metaMode(0o102755, 0).toString(8)).toBe('755');
    expect(metaMode(0o41777, 0).toString(8)).toBe('1777'); // the sticky bit is no privilege
    expect(metaMode(0o104755, 1000).toString(8)).toBe('4755');
  });

  it('sparse: fewer blocks than the size needs', () => {
    expect(isSparse({ size: 2 ** 31, blocks: 8 })).toBe(true);
    expect(isSparse({ size: 4096, blocks: 8 })).toBe(false);
    expect(isSparse({ size: 0, blocks: 0 })).toBe(false);
  });

  it('a manifest names its copies data/<n> (a companion suffix allowed); anything else is refused', () => {
    expect(storedIn('/proc/self/fd/3/.', 'data/2')).toBe('/proc/self/fd/3/2');
    expect(storedIn('/x/data', 'data/0-wal')).toBe('/x/data/0-wal');
    for (const bad of ['data/../../etc', '/etc/passwd', 'data/0/../../x', 'other/1'])
      expect(() => storedIn('/x/data', bad)).toThrow(expect.objectContaining({ code: 'STATE_PATH_UNSAFE' }));
  });

  it('a copier run by a worker inherits exactly the handed folders its paths name, at the same numbers', () => {
    expect(handedThrough([{ from: '/home/a/db.sqlite', to: '/tmp/x' }])).toEqual([]);
    expect(handedThrough([{ from: '/home/a/db.sqlite', to: `${handedDir(4)}/db.sqlite` }])).toEqual([3, 4]);
  });

  it('only root acting for another account goes through a worker', () => {
    const uid = process.getuid?.() ?? 0;
    expect(actsAsRootFor(undefined)).toBe(false);
    expect(actsAsRootFor({ name: 'root', uid: 0, gid: 0 })).toBe(false);
    expect(actsAsRootFor({ name: 'svc', uid: uid + 1, gid: 1 })).toBe(uid === 0);
  });
});

describe('with this process’s own rights', () => {
  it('a copied sparse file keeps its holes', async () => {
    const dir = tempDir('rs-sparse-', null);
    const from = join(dir, 'big');
    writeFileSync(from, 'start');
    truncateSync(from, 256 * 2 ** 20);
    writeFileSync(from, 'end', { flag: 'a' });
    const size = await copyFileDurably(from, join(dir, 'copy'));
    const copy = statSync(join(dir, 'copy'));
    expect([size, copy.size]).toEqual([256 * 2 ** 20 + 3, 256 * 2 ** 20 + 3]);
    expect(copy.blocks * 512).toBeLessThan(2 ** 20);
  });

  it('a ready or aside folder planted as a link (or not a folder) is refused, never followed', async () => {
    const dir = tempDir('rs-own-', null);
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(dir, '.release-switcher-aside-x'));
    await expect(ownFolder(join(dir, '.release-switcher-aside-x'))).rejects.toMatchObject({
      code: 'STATE_PATH_UNSAFE',
    });
    writeFileSync(join(dir, '.release-switcher-ready-x'), '');
    await expect(ownFolder(join(dir, '.release-switcher-ready-x'))).rejects.toMatchObject({
      code: 'STATE_PATH_UNSAFE',
    });
    await ownFolder(join(dir, 'fresh'));
    expect(statSync(join(dir, 'fresh')).mode & 0o777).toBe(0o700);
  });
});
