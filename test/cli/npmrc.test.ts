// npm's settings as the CLI reads them (cli/npmrc.ts): an account reads the .npmrc of the folder it runs in, as npm
// does for a local command; root reads none (npm -g never does for a global install, and an account's folder is the
// account's), and only a user config of root's alone.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { readNpmConfig } from '../../src/cli/npmrc.ts';

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rs-npmrc-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('npm settings and who acts', () => {
  it('root takes no project .npmrc, and no user config another account could write; an account takes both', () => {
    const dir = scratch();
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, '.npmrc'), 'registry=http://project.example/\n');
    const userconfig = join(dir, 'user-npmrc');
    writeFileSync(userconfig, 'fetch-timeout=1234\n');
    const env = { HOME: dir, npm_config_userconfig: userconfig };
    expect(readNpmConfig(env, dir, 1000)).toMatchObject({
      registry: 'http://project.example/',
      'fetch-timeout': '1234',
    });
    // The test process may not be root; the file's owner is: root's own config here only when this runs as root.
    const asRoot = readNpmConfig(env, dir, 0);
    expect(asRoot.registry).toBeUndefined();
    if (process.getuid?.() === 0) expect(asRoot['fetch-timeout']).toBe('1234');
    chmodSync(userconfig, 0o666); // now another account could write it
    expect(readNpmConfig(env, dir, 0)['fetch-timeout']).toBeUndefined();
  });
});
