// --all's trust in a listed root (verbs/fleet.ts over store/root-trust.ts), in this process on folders of its own
// account: an entry an older release-switcher listed without an identity is run and gets one at its first trusted use;
// a listed folder removed and made again (another inode) is no longer the one listed: untrusted, never run.
import { chmodSync, mkdirSync, renameSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { acrossRoots, registeredRoots } from '../../src/verbs/fleet.ts';

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rs-fleet-trust-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('--all trusts a listed root only while it is the folder listed', () => {
  it('an entry without identity is judged by its owner and modes, then gets its identity; one made again is refused', async () => {
    const dir = scratch();
    const root = join(dir, 'root');
    mkdirSync(root, { mode: 0o700 });
    writeFileSync(join(root, 'config.json'), '{}');
    const own = join(dir, 'state', 'roots.json');
    mkdirSync(join(dir, 'state'));
    const entry = { root, package: 'p', addedAt: '2026-11-01T00:00:00.000Z' }; // as an older release-switcher listed it
    writeFileSync(own, JSON.stringify({ version: 1, roots: [entry] }));
    const files = { own, system: join(dir, 'none.json') };

    const first = await registeredRoots({ files });
    expect(first.roots).toMatchObject([{ root, state: 'ready' }]);
    const recorded = JSON.parse(readFileSync(own, 'utf8')).roots[0];
    expect(recorded.identity).toMatchObject({
      dev: expect.stringMatching(/^\d+$/),
      ino: expect.stringMatching(/^\d+$/),
    });

    // The same path, another folder (made before the first goes, so that it cannot be given the freed inode).
    const other = join(dir, 'other');
    mkdirSync(other, { mode: 0o700 });
    writeFileSync(join(other, 'config.json'), '{}');
    renameSync(root, join(dir, 'old'));
    renameSync(other, root);
    const again = await registeredRoots({ files });
    expect(again.roots).toMatchObject([{ root, state: 'untrusted', refusal: { code: 'PERMISSION_DENIED' } }]);
    expect(again.roots[0]!.refusal!.message).toContain('not the folder that was listed');
    expect(again.roots[0]!.refusal!.hint).toContain(`forget ${root}`);
    let ran = 0;
    const across = await acrossRoots({ roots: again.roots, run: async () => ({ result: ran++ }) });
    expect(ran).toBe(0);
    expect(across).toMatchObject({ exitCode: 1, roots: [{ root, status: 'untrusted', code: 'PERMISSION_DENIED' }] });
  });

  it('a list another account could write is not read', async () => {
    const dir = scratch();
    const own = join(dir, 'roots.json');
    writeFileSync(own, JSON.stringify({ version: 1, roots: [] }));
    chmodSync(own, 0o666); // past the umask
    const listed = await registeredRoots({ files: { own, system: join(dir, 'none.json') } });
    expect(listed.unreadableFiles).toMatchObject([{ file: own, code: 'PERMISSION_DENIED', hint: `chmod go-w ${own}` }]);
  });
});
