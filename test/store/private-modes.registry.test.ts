// Issue 21, secrets (b): everything a root holds is readable by its owner only, whatever the umask and whatever
// an earlier version left. Files we write (config, journal, lock owner, fingerprints) are 0600; the folders of
// releases, staging, fingerprints are 0700, so nothing copied or unpacked into them (a 0644 state file, a
// release's files, its marker) is readable by another user. `current`/`previous` are links into releases/.
import { chmodSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtureRoot, rs } from '../support/cli.ts';

/** Entries directly under the root another user could read (links excepted: they point into releases/). */
function readableByOthers(root: string): string[] {
  return readdirSync(root)
    .filter((name) => !lstatSync(join(root, name)).isSymbolicLink())
    .filter((name) => (statSync(join(root, name)).mode & 0o077) !== 0)
    .map((name) => `${name} ${(statSync(join(root, name)).mode & 0o777).toString(8)}`);
}

const modeOf = (p: string) => statSync(p).mode & 0o777;

describe('a root is private to its owner', () => {
  it('init, install and switch leave nothing under the root readable by another user (umask 022)', async () => {
    const root = await fixtureRoot();
    expect(readableByOthers(root)).toEqual([]);
    const installed = await rs(root, ['install', 'rs-fixture-gateway@1.0.0']);
    expect(installed.exitCode, installed.stdout + installed.stderr).toBe(0);
    const switched = await rs(root, ['switch', '1.0.0']);
    expect(switched.exitCode, switched.stdout + switched.stderr).toBe(0);
    expect(readableByOthers(root)).toEqual([]);
    expect([modeOf(join(root, 'config.json')), modeOf(join(root, 'state.json'))]).toEqual([0o600, 0o600]);
    for (const dir of ['releases', 'staging', 'fingerprints'])
      expect([dir, modeOf(join(root, dir))]).toEqual([dir, 0o700]);
    for (const name of readdirSync(join(root, 'fingerprints')))
      expect([name, modeOf(join(root, 'fingerprints', name))]).toEqual([name, 0o600]);
  });

  it('a root an earlier version made world-readable is made private by the next mutation', async () => {
    const root = await fixtureRoot();
    for (const dir of ['releases', 'staging']) chmodSync(join(root, dir), 0o755);
    chmodSync(join(root, 'config.json'), 0o644);
    const installed = await rs(root, ['install', 'rs-fixture-gateway@1.0.0']);
    expect(installed.exitCode, installed.stdout + installed.stderr).toBe(0);
    expect([modeOf(join(root, 'releases')), modeOf(join(root, 'staging'))]).toEqual([0o700, 0o700]);
    // config.json is rewritten only by init: run it again, as a user changing a setting would.
    expect((await rs(root, ['init', '--channel', 'stable'])).exitCode).toBe(0);
    expect(readableByOthers(root)).toEqual([]);
  });
});
