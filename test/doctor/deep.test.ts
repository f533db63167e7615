// doctor's manifests check: by stat fingerprint by default, a full re-hash with --deep; both catch a
// file rewritten with its size and mtime put back (ctime moved).
import { execFileSync } from 'node:child_process';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { doctor } from '../../src/verbs/doctor.ts';
import { init } from '../../src/verbs/init.ts';
import { Journal, readState } from '../../src/store/journal.ts';
import { layoutOf } from '../../src/store/layout.ts';
import { tempDir } from '../support/cli.ts';
import { unfreeze } from '../support/root.ts';
import { stageReleaseForTest } from '../support/sealed.ts';

describe('doctor manifests: fast and --deep', () => {
  it('passes an intact release either way, says how it checked, and fails a tampered one either way', async () => {
    const root = join(tempDir('rs-test-', null), 'root'); // root's own: the library runs here as the test process
    await init({ root, settings: { package: 'app', supervisor: 'none' } });
    const layout = layoutOf(root);
    await stageReleaseForTest(layout, '1.0.0', { 'package.json': '{}', 'index.js': 'console.log(1)\n' });
    const journal = await Journal.open(root);
    journal.state.releases['1.0.0'] = {
      version: '1.0.0',
      state: 'installed',
      pinned: false,
      installedAt: new Date().toISOString(),
      integrity: null,
      source: 'test',
    };
    await journal.commit();
    expect(Object.keys((await readState(root)).releases)).toEqual(['1.0.0']);
    const manifests = async (deep: boolean) =>
      (await doctor({ root, deep })).checks.find((c) => c.name === 'manifests')!;
    expect(await manifests(false)).toMatchObject({
      ok: true,
      detail: expect.stringContaining('checked by stat fingerprint'),
    });
    expect(await manifests(true)).toMatchObject({ ok: true, detail: expect.stringContaining('re-hashed in full') });

    const file = join(layout.release('1.0.0'), 'index.js');
    const reference = join(tempDir(), 'times');
    writeFileSync(reference, '');
    execFileSync('touch', ['-r', file, reference]);
    const mode = statSync(file).mode & 0o7777;
    unfreeze(file); // as root, a tamperer clears the immutable attribute first
    chmodSync(file, 0o644);
    writeFileSync(file, 'console.log(2)\n');
    chmodSync(file, mode);
    execFileSync('touch', ['-r', reference, file]);
    for (const deep of [false, true])
      expect(await manifests(deep)).toMatchObject({ ok: false, detail: '1.0.0: index.js: content changed' });
  });
});
