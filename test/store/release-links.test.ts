// A symbolic link under releases/ is never a release, however marker-shaped the folder it leads to (issue 21,
// "a damaged journal reaches outside the root"): before, releases/<v> linking to a folder outside the root that
// held a copy of a release with its marker was taken for a release; recovery set the immutable attribute on
// everything under the target, and every later command failed INTERNAL. Now it is listed nowhere, cannot be
// switched to, nothing outside the root changes, the commands that follow work, and doctor names the link.
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rs, templateRoot } from '../support/cli.ts';
import { linkOf, unfreeze } from '../support/root.ts';

const MARKER = '.release-switcher.json';

describe('releases/ entries that are symbolic links', () => {
  const copyOfTemplate = templateRoot(['1.0.0']);

  it('a link to a marker-shaped folder outside the root is no release: not listed, not switchable, not touched', async () => {
    const root = copyOfTemplate();
    const elsewhere = join(dirname(root), 'elsewhere');
    cpSync(join(root, 'releases', '1.0.0'), elsewhere, { recursive: true });
    unfreeze(elsewhere);
    execFileSync('chmod', ['-R', 'u+w', elsewhere]);
    const marker = JSON.parse(readFileSync(join(elsewhere, MARKER), 'utf8'));
    writeFileSync(join(elsewhere, MARKER), JSON.stringify({ ...marker, version: '9.9.9' }));
    symlinkSync(elsewhere, join(root, 'releases', '9.9.9'));
    const modes = (p: string) => statSync(p).mode;
    const before = { dir: modes(elsewhere), marker: modes(join(elsewhere, MARKER)) };

    const list = await rs(root, ['list']);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.json.result.releases.map((r: { version: string }) => r.version)).toEqual(['1.0.0']);
    const prune = await rs(root, ['prune']);
    expect(prune.exitCode, prune.stdout + prune.stderr).toBe(0);
    const sw = await rs(root, ['switch', '9.9.9']);
    expect([sw.exitCode, sw.json?.error?.code], sw.stdout + sw.stderr).toEqual([1, 'RELEASE_NOT_FOUND']);
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');

    // Nothing under the link's target was sealed or made immutable.
    expect({ dir: modes(elsewhere), marker: modes(join(elsewhere, MARKER)) }).toEqual(before);
    const attrs = execFileSync('lsattr', ['-d', elsewhere, join(elsewhere, MARKER)], { encoding: 'utf8' });
    expect(
      attrs
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split(/\s+/)[0]!.includes('i')),
    ).toEqual([false, false]);
    writeFileSync(join(elsewhere, 'still-writable'), 'yes\n');

    const doctor = await rs(root, ['doctor']);
    const manifests = doctor.json.result.checks.find((c: { name: string }) => c.name === 'manifests');
    expect(manifests).toMatchObject({ ok: false });
    expect(manifests.detail).toMatch(/releases\/9\.9\.9: not a directory \(a symbolic link/);
  });
});
