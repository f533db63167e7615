// Issue 48: what a unit's privileged (`+`) commands may take from the service's account, as text and pure functions:
// the unit lines (env -i, a fixed PATH, absolute paths), the environment a root boot-check keeps, which files root may
// run, and the refusal of a `+` line over a root another account may change. The whole thing under a real system
// manager, as the attacker: test/transaction/privileged-boot-check.system.test.ts.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isReleaseSwitcherError } from '../../src/model/errors.ts';
import {
  SECURE_PATH,
  onSecurePath,
  privilegedEnvironment,
  scrubEnvironment,
  untrustedByRoot,
} from '../../src/platform/privileged-env.ts';
import { CLI_MAIN } from '../../src/platform/self.ts';
import { type Config, defaultConfig } from '../../src/store/config.ts';
import { privilegedService, refuseEnvironmentInjection } from '../../src/unit-files/privileged.ts';
import { systemdDropIn } from '../../src/unit-files/unit.ts';
import { tempDir } from '../support/cli.ts';
import { itWhere } from '../support/skip.ts';
import { bootCheck } from '../../src/verbs/boot-check.ts';
import { linger } from '../../src/doctor/service.ts';
import { layoutOf } from '../../src/store/layout.ts';

const config = (over: Partial<Config> = {}): Config => ({
  ...defaultConfig('rs-app'),
  supervisor: 'systemd-system',
  unit: 'openclaw',
  node: '/opt/node/bin/node',
  serviceUser: 'rs-nobody-such',
  ...over,
});
const ROOT = '/srv/rs-root-not-made';
const AS_ROOT = `+/usr/bin/env -i PATH=${SECURE_PATH} NODE_DISABLE_COMPILE_CACHE=1 `;

describe('privileged unit lines', () => {
  it('root acting for the account: the boot-check and the hold run through env -i with a fixed PATH, by absolute paths', () => {
    const lines = systemdDropIn(config(), ROOT, { entry: 'server.js' }).split('\n');
    // release-switcher's own pinned copy (src/tool/) runs it, not the service's Node (config.node) nor npm's path.
    const home = process.env.RELEASE_SWITCHER_TOOL_HOME!;
    expect(lines).toContain(
      `ExecStartPre=-${AS_ROOT}${home}/current/node ${home}/current/package/dist/cli/main.js --root ${ROOT} boot-check`,
    );
    expect(lines.join('\n')).not.toContain(CLI_MAIN);
    expect(lines.find((l) => l.startsWith('ExecCondition='))).toMatch(
      new RegExp(`^ExecCondition=${AS_ROOT.replace(/[+.]/g, '\\$&')}/bin/sh -c `),
    );
    // The service itself keeps the unit's environment and runs as User=: nothing of ours is added to its line.
    expect(lines.find((l) => l.startsWith('ExecStart=/'))).toBe(
      `ExecStart=/opt/node/bin/node ${ROOT}/current/server.js`,
    );
    // A root the service's account keeps itself: no `+`, no env -i (its boot-check runs as the account, sandboxed).
    const own = systemdDropIn(config({ serviceUser: null }), ROOT, { entry: 'server.js' });
    expect(own).not.toMatch(/^Exec\w+=-?\+/m);
    expect(own).not.toContain('env -i');
  });

  it('a privileged command named by a bare name (looked up on the unit PATH) is refused', () => {
    const line = () =>
      systemdDropIn(config(), ROOT, {
        entry: 'server.js',
        bootCheck: ['node', 'cli.js', '--root', ROOT, 'boot-check'],
      });
    expect(line).toThrow(/absolute path, not "node"/);
  });
});

describe('the environment a root boot-check keeps', () => {
  const unitEnv = {
    PATH: '/home/openclaw/.local/bin:/usr/bin',
    HOME: '/home/openclaw',
    NODE_OPTIONS: '--require=/home/openclaw/p.cjs',
    NODE_PATH: '/home/openclaw/lib',
    LD_PRELOAD: '/home/openclaw/x.so',
    NODE_COMPILE_CACHE: '/home/openclaw/cache',
    npm_config_userconfig: '/home/openclaw/.npmrc',
    LANG: 'C.UTF-8',
  };

  it('the fixed PATH, the compile cache off, the locale: nothing else', () => {
    expect(privilegedEnvironment(unitEnv)).toEqual({
      PATH: SECURE_PATH,
      NODE_DISABLE_COMPILE_CACHE: '1',
      LANG: 'C.UTF-8',
    });
  });

  it('scrubs an environment in place (process.env), saying what it removed', () => {
    const env: NodeJS.ProcessEnv = { ...unitEnv };
    expect(scrubEnvironment(env)).toEqual([
      'HOME',
      'LD_PRELOAD',
      'NODE_COMPILE_CACHE',
      'NODE_OPTIONS',
      'NODE_PATH',
      'npm_config_userconfig',
    ]);
    expect(env).toEqual(privilegedEnvironment(unitEnv));
  });

  it("keeps XDG_RUNTIME_DIR only when root alone owns and writes it (root's own user manager), never an account's", () => {
    const mine = mkdtempSync(path.join(tmpdir(), 'rs-runtime-'));
    onTestFinished(() => rmSync(mine, { recursive: true, force: true }));
    chmodSync(mine, 0o700);
    const own = process.getuid?.() === 0;
    expect(privilegedEnvironment({ ...unitEnv, XDG_RUNTIME_DIR: mine }).XDG_RUNTIME_DIR).toBe(own ? mine : undefined);
    if (own) {
      chownSync(mine, 1, 1); // another account's folder (daemon's here), however private: never kept
      expect(privilegedEnvironment({ ...unitEnv, XDG_RUNTIME_DIR: mine }).XDG_RUNTIME_DIR).toBeUndefined();
      chownSync(mine, 0, 0);
    }
    chmodSync(mine, 0o777); // writable by others: never kept
    expect(privilegedEnvironment({ ...unitEnv, XDG_RUNTIME_DIR: mine }).XDG_RUNTIME_DIR).toBeUndefined();
    expect(privilegedEnvironment({ ...unitEnv, XDG_RUNTIME_DIR: 'relative' }).XDG_RUNTIME_DIR).toBeUndefined();
  });

  it('commands by absolute path on the fixed PATH only', () => {
    expect(onSecurePath('sh')).toMatch(/^\/(usr\/)?(s)?bin\/sh$/);
    expect(onSecurePath('/already/absolute')).toBe('/already/absolute');
    expect(onSecurePath('rs-no-such-command')).toBeUndefined();
  });
});

describe('what root may run', () => {
  it("root's own files in root's folders pass; a folder others may write, or another owner, does not", () => {
    expect(untrustedByRoot('/bin/sh')).toBeUndefined();
    const dir = tempDir('rs-privileged-');
    const open = path.join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    writeFileSync(path.join(open, 'node'), '');
    expect(untrustedByRoot(path.join(open, 'node'))).toMatch(/writable by every account|owned by uid/);
    if (process.getuid?.() === 0) {
      const theirs = path.join(dir, 'theirs');
      mkdirSync(theirs);
      chownSync(theirs, 65534, 65534);
      expect(untrustedByRoot(theirs)).toBe(`${theirs} is owned by uid 65534, not root`);
    }
  });

  it('a + boot-check over a root another account may change is refused before anything is written', () => {
    const dir = tempDir('rs-privileged-');
    const root = path.join(dir, 'root');
    mkdirSync(root);
    if (process.getuid?.() === 0) chownSync(root, 65534, 65534);
    else chmodSync(root, 0o777); // as a normal account, a root of our own is another account's to root anyway
    let error: unknown;
    try {
      privilegedService(config(), root, { entry: 'server.js' }, { node: '/usr/bin/node', cli: '/x/dist/cli/main.js' });
    } catch (caught) {
      error = caught;
    }
    expect(isReleaseSwitcherError(error) && error.code).toBe('UNSUPPORTED');
    expect((error as Error).message).toContain(`the root ${root}`);
    expect((error as { hint: string }).hint).toMatch(/where only root may write/);
  });
});

describe("the unit's own environment, which reaches a + line before env -i clears it", () => {
  const unitWith = (environment: Record<string, string>, environmentFiles: string[] = []) => ({
    execStart: ['/usr/bin/node', 'server.js'],
    environment,
    environmentFiles,
    service: {},
    files: ['/etc/systemd/system/openclaw.service'],
  });
  const refusal = (run: () => void) => {
    try {
      run();
    } catch (error) {
      return error as Error & { code: string; hint: string };
    }
    return undefined;
  };
  const open = () => {
    const dir = path.join(tempDir('rs-privileged-env-'), 'open');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    return dir;
  };

  it('an EnvironmentFile= another account may change (it could add LD_PRELOAD) is refused, present or not', () => {
    const dir = open();
    writeFileSync(path.join(dir, 'env'), 'A=1\n');
    for (const file of [path.join(dir, 'env'), `-${path.join(dir, 'not-yet')}`]) {
      const error = refusal(() => refuseEnvironmentInjection(config(), ROOT, unitWith({}, [file])));
      expect(error?.code, file).toBe('UNSUPPORTED');
      expect(error?.message).toContain(`the unit's EnvironmentFile=${file.replace(/^-/, '')}`);
      expect(error?.message).toContain('LD_PRELOAD');
      expect(error?.hint).toMatch(/only root may write/);
    }
  });

  it("a loader variable naming another account's file is refused; root's own files and other variables pass", () => {
    const lib = path.join(open(), 'p.so');
    writeFileSync(lib, '');
    for (const environment of [
      { LD_PRELOAD: lib },
      { LD_LIBRARY_PATH: `/usr/lib:${path.dirname(lib)}` },
      { GCONV_PATH: lib },
    ])
      expect(refusal(() => refuseEnvironmentInjection(config(), ROOT, unitWith(environment)))?.code).toBe(
        'UNSUPPORTED',
      );
    // Controls: root's files, a variable the loader does not read, root's own environment file.
    const fine = unitWith({ LD_PRELOAD: '/bin/sh', NODE_ENV: lib, OPENCLAW_HOME: lib }, ['/etc/hostname']);
    expect(refusal(() => refuseEnvironmentInjection(config(), ROOT, fine))).toBeUndefined();
  });

  it("a unit with no privileged line (the root is the account's own, or no service account) is not judged", () => {
    const bad = unitWith({ LD_PRELOAD: path.join(open(), 'p.so') });
    expect(refusal(() => refuseEnvironmentInjection(config({ serviceUser: null }), ROOT, bad))).toBeUndefined();
    expect(refusal(() => refuseEnvironmentInjection(config(), ROOT, undefined))).toBeUndefined();
  });
});

const asRoot = {
  ok: process.getuid?.() === 0,
  why: 'only root runs the boot-check as root and can give a folder to another uid',
  where: 'in CI, which runs the suite as root',
};

describe('the boot-check as root', () => {
  itWhere(
    asRoot,
    'does nothing on a root another account may change (handed to it after the + line was written)',
    async () => {
      const root = path.join(tempDir('rs-privileged-'), 'root');
      mkdirSync(root);
      writeFileSync(path.join(root, 'config.json'), '{}'); // never read: refused before
      chownSync(root, 65534, 65534);
      const result = await bootCheck({
        root,
        runner: async () => ({ exitCode: 1, output: 'not asked', timedOut: false }),
      });
      expect(result).toMatchObject({
        action: 'refused',
        detail: expect.stringContaining(`${root} is owned by uid 65534`),
      });
    },
  );
});

describe('doctor: linger', () => {
  it('unknown (no logind, no loginctl) is a warning, not a failure', async () => {
    const dir = tempDir('rs-privileged-');
    const root = path.join(dir, 'root');
    const result = await linger({
      layout: layoutOf(root),
      config: config({ supervisor: 'systemd', serviceUser: null }),
      env: { PATH: dir }, // no loginctl on it
      fix: false,
      deep: false,
    });
    // An account whose linger logind recorded is known: then it is ok either way.
    if (result?.detail.startsWith('linger is enabled')) return expect(result.ok).toBe(true);
    expect(result).toMatchObject({
      name: 'linger',
      ok: true,
      warning: true,
      detail: expect.stringContaining('unknown'),
    });
  });
});
