// A symbolic link under releases/ is never a release, however marker-shaped the folder it leads to (issue 21,
// "a damaged journal reaches outside the root"): before, releases/<v> linking to a folder outside the root that
// held a copy of a release with its marker was taken for a release; recovery set the immutable attribute on
// everything under the target, and every later command failed INTERNAL. Now it is listed nowhere, cannot be
// switched to, nothing outside the root changes, the commands that follow work, and doctor names the link.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
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
    // doctor (read-only) names the link; the first mutation's recovery then sets it aside (below).
    const doctor = await rs(root, ['doctor']);
    const manifests = doctor.json.result.checks.find((c: { name: string }) => c.name === 'manifests');
    expect(manifests).toMatchObject({ ok: false });
    expect(manifests.detail).toMatch(/releases\/9\.9\.9: not a directory \(a symbolic link/);
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

    // prune's recovery set the link itself aside, out of releases/, and said so; its target is where it was.
    expect(prune.stderr).toMatch(
      /set aside releases\/9\.9\.9 \(a symbolic link to .*elsewhere, never a release\) as set-aside\/9\.9\.9-/,
    );
    expect(readdirSync(join(root, 'releases'))).toEqual(['1.0.0']);
    const [aside] = readdirSync(join(root, 'set-aside'));
    expect(readlinkSync(join(root, 'set-aside', aside!))).toBe(elsewhere);
    expect(statSync(join(root, 'set-aside')).mode & 0o777).toBe(0o700);
    const after = await rs(root, ['doctor']);
    expect(after.json.result.checks.find((c: { name: string }) => c.name === 'manifests')).toMatchObject({ ok: true });
  });

  it('recover sets a link in releases/ aside and says so (once); the next recover has nothing to say of it', async () => {
    const root = copyOfTemplate();
    const elsewhere = join(dirname(root), 'elsewhere-recover');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(root, 'releases', '2.0.0'));
    const r = await rs(root, ['recover']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    // The JSON result is the transaction (none here); what recovery did goes to stderr, once.
    expect(r.stderr.match(/set aside releases\/2\.0\.0 /g)).toHaveLength(1);
    expect(r.stderr).toMatch(
      /recover: set aside releases\/2\.0\.0 \(a symbolic link to .*elsewhere-recover, never a release\) as set-aside\/2\.0\.0-\d{4}-/,
    );
    const human = await rs(root, ['recover'], {});
    expect(human.stderr).not.toMatch(/set aside/);
    expect(readdirSync(join(root, 'releases'))).toEqual(['1.0.0']);
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('doctor --fix sets a link in releases/ aside and says so (FIXED), also a dangling one; without --fix it only names it', async () => {
    const root = copyOfTemplate();
    symlinkSync('/nonexistent-target', join(root, 'releases', '3.0.0'));
    const plain = await rs(root, ['doctor']);
    expect(plain.json.result.checks.find((c: { name: string }) => c.name === 'manifests')).toMatchObject({ ok: false });
    expect(readdirSync(join(root, 'releases')).sort()).toEqual(['1.0.0', '3.0.0']);
    const fixed = await rs(root, ['doctor', '--fix']);
    const manifests = fixed.json.result.checks.find((c: { name: string }) => c.name === 'manifests');
    expect(manifests.fixed, fixed.stdout).toMatch(
      /^set aside releases\/3\.0\.0 \(a symbolic link to \/nonexistent-target, never a release\) as set-aside\/3\.0\.0-/,
    );
    expect(readdirSync(join(root, 'releases'))).toEqual(['1.0.0']);
    const human = await rs(root, ['doctor']);
    expect(human.json.result.checks.find((c: { name: string }) => c.name === 'manifests')).toMatchObject({ ok: true });
  });

  it('a link that current names is left where it is (the service runs from it) and doctor --fix says why', async () => {
    const root = copyOfTemplate();
    const elsewhere = join(dirname(root), 'elsewhere-current');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(root, 'releases', '4.0.0'));
    rmSync(join(root, 'current'));
    symlinkSync('releases/4.0.0', join(root, 'current'));
    const fixed = await rs(root, ['doctor', '--fix']);
    const result = fixed.json.result;
    const manifests = result.checks.find((c: { name: string }) => c.name === 'manifests');
    expect(manifests, fixed.stdout).toMatchObject({ ok: false });
    expect(manifests.fixed).toBeUndefined();
    expect(manifests.detail).toMatch(
      /left releases\/4\.0\.0 \(a symbolic link to .*, never a release\): current names it/,
    );
    expect(readdirSync(join(root, 'releases')).sort()).toEqual(['1.0.0', '4.0.0']);
  });
});
