// The fixture writer (fixture-root.ts) makes a root the library takes for one it made itself: its config and state
// read back by the library's own readers, each release intact against its manifest and its fingerprint record, the
// links where a switch leaves them, and a release tampered with after sealing caught (the control: the check can fail).
import { existsSync, lstatSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isReleaseSwitcherError } from '../../src/model/errors.ts';
import { readConfig } from '../../src/store/config.ts';
import { readState as journalState } from '../../src/store/journal.ts';
import { layoutOf } from '../../src/store/layout.ts';
import { readRecord } from '../../src/store/fingerprints.ts';
import { checkReleaseFast, readMarker, verifyRelease } from '../../src/store/release.ts';
import { list } from '../../src/verbs/list.ts';
import { runThisFileAsRoot } from './accounts.ts';
import { tempDir } from './cli.ts';
import { FIXTURE_PACKAGE, fixtureRoots, writeFixtureRoot } from './fixture-root.ts';
import { linkOf, unfreeze } from './root.ts';

runThisFileAsRoot('it writes roots in this process (as root): root acts only on roots of its own');

const freshRoot = fixtureRoots(['1.0.0', '1.2.0']);

describe('a root written by the fixture writer', () => {
  it('is read back by the library: config, state, each release intact with its fingerprints, current on the first', async () => {
    const root = freshRoot();
    const layout = layoutOf(root);
    const config = await readConfig(root);
    expect(config).toMatchObject({ package: FIXTURE_PACKAGE, supervisor: 'none', registry: null });
    const state = await journalState(root);
    expect(state.transaction).toBeNull();
    expect(state.operation).toBeNull();
    expect(Object.keys(state.releases).sort()).toEqual(['1.0.0', '1.2.0']);
    expect(state.releases['1.2.0']).toMatchObject({ state: 'installed', pinned: false, integrity: null });
    expect(state.history.at(-1)).toMatchObject({ kind: 'switch', status: 'switched', to: '1.0.0' });
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
    expect(readdirSync(join(root, 'staging'))).toEqual([]);
    for (const version of ['1.0.0', '1.2.0']) {
      const marker = (await readMarker(layout, version))!;
      expect(marker).toMatchObject({ name: FIXTURE_PACKAGE, version, node: { path: process.execPath } });
      const paths = marker.files.map((entry) => entry.path);
      expect(paths).toEqual(
        expect.arrayContaining(['package.json', 'server.js', 'node_modules/rs-fixture-dep/package.json']),
      );
      expect(paths).not.toContain('.lifecycle-pending'); // as npm leaves it: its postinstall ran
      expect(await verifyRelease(layout, version)).toEqual(marker);
      expect((await readRecord(layout, version))?.paths).toEqual(paths);
      expect(await checkReleaseFast(layout, version)).toEqual({ version, entries: paths.length });
      expect(lstatSync(join(root, 'releases', version, 'server.js')).mode & 0o222).toBe(0); // sealed
    }
    // Identical files are shared between releases, as dedupe leaves them.
    const ino = (v: string) => lstatSync(join(root, 'releases', v, 'node_modules/rs-fixture-dep/index.cjs')).ino;
    expect(ino('1.2.0')).toBe(ino('1.0.0'));
    const listed = await list({ root });
    expect(listed.releases.map((r) => [r.version, r.current])).toEqual([
      ['1.2.0', false],
      ['1.0.0', true],
    ]);
  });

  it('a release changed after sealing is caught (control: the check can fail)', async () => {
    const root = freshRoot();
    const file = join(root, 'releases', '1.2.0', 'server.js');
    unfreeze(join(root, 'releases', '1.2.0'), file);
    rmSync(file);
    writeFileSync(file, 'tampered\n');
    const error = await verifyRelease(layoutOf(root), '1.2.0').catch((e: unknown) => e);
    expect(isReleaseSwitcherError(error) && error.code).toBe('RELEASE_TAMPERED');
  });

  it('never activated when asked: no current, no history; settings go through init', async () => {
    const root = join(tempDir('rs-fixture-', null), 'root');
    await writeFixtureRoot(root, { versions: ['1.1.0'], current: null, settings: { keep: 5 } });
    expect(existsSync(join(root, 'current'))).toBe(false);
    expect((await journalState(root)).history).toEqual([]);
    expect(JSON.parse(readFileSync(join(root, 'config.json'), 'utf8')).keep).toBe(5);
  });
});
