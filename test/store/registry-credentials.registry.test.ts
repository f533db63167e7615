// Credentials in a registry URL (`--registry http://user:pass@host/`) are never written where others can read them
// (issue 21, "secrets readable by other users"): before, they landed in config.json (0644) and in every release
// marker (0444 and immutable: it could not even be scrubbed). Now config.json holds the URL without them, they are
// kept in registry-auth.json (0600), and the install that uses them records its source without them.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { readConfig } from '../../src/store/config.ts';
import { cli, tempDir } from '../support/cli.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';

runThisFileAsRoot('it reads the config in this process (as root): root reads only roots of its own');

const SECRET = 's3cret-Pa55';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('a registry URL with credentials', () => {
  it('is written without them; they live in a 0600 file; the install uses them and records none', async () => {
    const root = join(tempDir('rs-root-'), 'root');
    const url = new URL(inject('registryUrl'));
    url.username = 'ada';
    url.password = SECRET;
    const init = await cli([
      '--root',
      root,
      '--json',
      'init',
      '--package',
      'rs-fixture-gateway',
      '--registry',
      url.href,
    ]);
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    expect(init.stdout).not.toContain(SECRET);
    expect(readFileSync(join(root, 'config.json'), 'utf8')).not.toContain(SECRET);
    expect(JSON.parse(readFileSync(join(root, 'config.json'), 'utf8')).registry).toBe(inject('registryUrl'));
    const auth = join(root, 'registry-auth.json');
    expect(statSync(auth).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(auth, 'utf8'))).toEqual({ username: 'ada', password: SECRET });
    // The library reads the URL back whole: what fetches use.
    expect((await readConfig(root)).registry).toBe(url.href);

    const install = await cli(['--root', root, '--json', 'install', 'rs-fixture-gateway@1.0.0']);
    expect(install.exitCode, install.stdout + install.stderr).toBe(0);
    const leaks = filesUnder(root).filter((f) => f !== auth && readFileSync(f).includes(SECRET));
    expect(leaks, 'files under the root holding the password').toEqual([]);

    // A registry without credentials removes the side file.
    const plain = await cli(['--root', root, '--json', 'init', '--registry', inject('registryUrl')]);
    expect(plain.exitCode).toBe(0);
    expect(readdirSync(root)).not.toContain('registry-auth.json');
  });
});

describe('a tarball URL with credentials', () => {
  it('is refused before anything records it (INVALID_SPEC, exit 1): the message and the root hold no password, nothing staged or locked', async () => {
    const root = join(tempDir('rs-root-'), 'root');
    expect((await cli(['--root', root, '--json', 'init', '--package', 'rs-fixture-gateway'])).exitCode).toBe(0);
    const before = filesUnder(root).sort();
    const url = new URL('rs-fixture-gateway/-/rs-fixture-gateway-1.0.0.tgz', inject('registryUrl'));
    url.username = 'ada';
    url.password = SECRET;
    for (const verb of ['install', 'update']) {
      const r = await cli(['--root', root, '--json', verb, url.href]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      expect(JSON.parse(r.stdout).error).toMatchObject({
        code: 'INVALID_SPEC',
        hint: expect.stringContaining(`//${url.host}/rs-fixture-gateway/-/:_auth`),
      });
      expect(r.stdout + r.stderr).not.toContain(SECRET);
      // Nothing recorded the command: no journal, no lock record, no staging, no release.
      expect(filesUnder(root).sort()).toEqual(before);
    }
  });
});
