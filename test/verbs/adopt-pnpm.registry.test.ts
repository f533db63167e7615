// Adopting a pnpm global install (`pnpm add -g`, the way OpenClaw's Ansible role installs it): the package folder is a
// symlink into pnpm's virtual store and holds none of its dependencies, so a copy of it cannot load. Adopt stages the
// same version from the registry with npm's tree, proves it is the same package file by file, and refuses what it
// cannot prove, changing nothing. pnpm runs as the account that owns the install (the default test account).
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, readFileSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { asAccount, defaultTestAccount } from '../support/accounts.ts';
import { accountCliEnv, cli, cliEnv, rs, runnableBy, tempDir } from '../support/cli.ts';

const who = defaultTestAccount();

/** `pnpm add -g <spec>` into a fresh PNPM_HOME of the test account; the path `pnpm root -g` gives for the package. */
function pnpmGlobal(spec: string): { installed: string; home: string } {
  const home = tempDir('rs-pnpm-');
  const { node, packageDir } = who ? runnableBy(who) : { node: process.execPath, packageDir: process.cwd() };
  const env = {
    ...(who ? accountCliEnv(who) : cliEnv()),
    PNPM_HOME: home,
    PATH: `${home}:${process.env.PATH}`,
  };
  const pnpm = (args: string[]) => {
    const [command, argv] = who
      ? asAccount(who, node, [join(packageDir, 'node_modules/pnpm/bin/pnpm.cjs'), ...args])
      : [node, [join(packageDir, 'node_modules/pnpm/bin/pnpm.cjs'), ...args]];
    return execFileSync(command, argv, { env, cwd: home, encoding: 'utf8', stdio: 'pipe' });
  };
  pnpm(['add', '-g', `--store-dir=${join(home, 'store')}`, `--registry=${inject('registryUrl')}`, spec]);
  const root = pnpm(['root', '-g']).trim();
  return { installed: join(root, spec.replace(/@[^@]*$/, '')), home };
}

/** The package's own files: every regular file outside its node_modules. */
const ownFiles = (dir: string) =>
  execFileSync('find', ['.', '-path', './node_modules', '-prune', '-o', '-type', 'f', '-print'], {
    cwd: dir,
    encoding: 'utf8',
  })
    .trim()
    .split('\n').length;

/** Every file below `dir` with its inode and mtime: an untouched install keeps all three. */
const snapshot = (dir: string) =>
  execFileSync('find', [dir, '-printf', '%p %i %T@ %m\n'], { encoding: 'utf8' }).split('\n').sort().join('\n');

describe('init --adopt of a pnpm global install', () => {
  it('stages the same version from the registry, proves it equal file by file, and keeps it as a good release that loads', async () => {
    const { installed } = pnpmGlobal('rs-fixture-gateway@1.0.0');
    const real = realpathSync(installed);
    expect(real).toMatch(/\/\.pnpm\//); // the symlink into pnpm's virtual store users adopt
    expect(existsSync(join(real, 'node_modules/rs-fixture-dep'))).toBe(false); // its dependency lives beside it
    const before = snapshot(real);
    const root = join(tempDir('rs-adopt-'), 'root');
    const r = await cli(['--root', root, '--json', 'init', '--registry', inject('registryUrl'), '--adopt', installed]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result.adopted).toMatchObject({
      version: '1.0.0',
      current: '1.0.0',
      restaged: {
        why: expect.stringContaining('rs-fixture-dep (needed by the package) is outside it'),
        from: expect.stringContaining('/rs-fixture-gateway/-/rs-fixture-gateway-1.0.0.tgz'),
        integrity: expect.stringMatching(/^sha512-/),
        proven: ownFiles(real),
      },
    });
    // npm's tree, with the dependency's postinstall run (pnpm skipped it): the release loads and runs.
    const release = join(root, 'releases/1.0.0');
    expect(existsSync(join(release, 'node_modules/rs-fixture-dep/package.json'))).toBe(true);
    expect(
      execFileSync(process.execPath, [join(root, 'current/server.js'), '--version'], { encoding: 'utf8' }).trim(),
    ).toBe('1.0.0');
    expect((await rs(root, ['list'])).json.result.releases).toEqual([
      expect.objectContaining({ version: '1.0.0', state: 'good', current: true }),
    ]);
    const doctor = await rs(root, ['doctor', '--deep']);
    expect(doctor.exitCode, doctor.stdout).toBe(0);
    expect(snapshot(real)).toBe(before); // pnpm's install is left exactly as it was
    // The human output says what happened.
    const human = await cli([
      '--root',
      join(tempDir('rs-adopt-'), 'root'),
      'init',
      '--registry',
      inject('registryUrl'),
      '--adopt',
      installed,
    ]);
    expect(human.stdout).toMatch(
      /note: .* does not hold its dependencies .*; so the release was staged from .* and proven the same package \(\d+ files compared\)/,
    );
  });

  it('refuses an install it cannot prove (a file changed, or a version the registry lacks): ADOPT_UNPROVEN, nothing adopted, no staging left', async () => {
    const { installed } = pnpmGlobal('rs-fixture-gateway@1.0.0');
    // A patched copy: the same folder with one file changed (pnpm's store files are hard links; copy, then edit).
    const patched = join(tempDir('rs-patched-'), 'node_modules/rs-fixture-gateway');
    cpSync(realpathSync(installed), patched, { recursive: true });
    appendFileSync(join(patched, 'server.js'), '\n// patched in place\n');
    // A version the registry never had.
    const unknown = join(tempDir('rs-unknown-'), 'node_modules/rs-fixture-gateway');
    cpSync(realpathSync(installed), unknown, { recursive: true });
    const pkg = JSON.parse(readFileSync(join(unknown, 'package.json'), 'utf8'));
    writeFileSync(join(unknown, 'package.json'), JSON.stringify({ ...pkg, version: '9.9.9' }));
    for (const [folder, why] of [
      [patched, /1 of its files differ from the registry's \(server\.js\)/],
      [unknown, /the registry cannot give it/],
    ] as const) {
      const root = join(tempDir('rs-adopt-'), 'root');
      const r = await cli(['--root', root, '--json', 'init', '--registry', inject('registryUrl'), '--adopt', folder]);
      expect([r.exitCode, r.json.error.code], r.stdout).toEqual([1, 'ADOPT_UNPROVEN']);
      expect(r.json.error.message).toMatch(why);
      expect(r.json.error.hint).toMatch(/^Nothing was changed\. Install the release from the registry instead/);
      expect(readdirSync(join(root, 'releases'))).toEqual([]);
      expect(readdirSync(join(root, 'staging'))).toEqual([]);
      expect(existsSync(join(root, 'current'))).toBe(false);
      expect((await rs(root, ['list'])).json.result.releases).toEqual([]);
    }
  });
});
