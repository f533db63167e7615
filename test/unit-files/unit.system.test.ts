// The systemd side of a root: the drop-in / unit text, systemd's own verdict on it (systemd-analyze verify), and
// the drop-in installed by the CLI into a real private `systemd --user`, running `<root>/current/server.js`.
import { existsSync, mkdirSync, readFileSync, readlinkSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { describeWhere } from '../support/skip.ts';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Config, defaultConfig } from '../../src/store/config.ts';
import { dropInPath, execWord, systemdDropIn, systemdUnit, unitPath } from '../../src/unit-files/unit.ts';
import { cli, tempDir } from '../support/cli.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';

const config = (over: Partial<Config> = {}): Config => ({
  ...defaultConfig('rs-app'),
  supervisor: 'systemd',
  unit: 'rs-app',
  node: '/opt/node/bin/node',
  ...over,
});
const ROOT = '/srv/rs app/100%';
const HEADER = '# Written by release-switcher (unit --install): regenerate it rather than edit it.';
const SERVICE = [
  'ExecStart=/opt/node/bin/node "/srv/rs app/100%%/current/server.js" --port 8080',
  'Restart=always',
  'RestartSec=1',
  'TimeoutStopSec=30',
  'RestartPreventExitStatus=78',
  'WorkingDirectory=/srv/rs app/100%%/current',
];
// The restart hold's condition: a shell over <root>/restart-hold (its behaviour under systemd: restart-hold.system.test.ts).
const HOLD = (prefix = '') =>
  expect.stringMatching(
    new RegExp(
      `^ExecCondition=${prefix.replace(/[+.]/g, '\\$&')}/bin/sh -c ".+" release-switcher-hold "/srv/rs app/100%%/restart-hold"$`,
    ),
  );
const serviceOptions = {
  entry: 'server.js',
  args: ['--port', '8080'],
  bootCheck: ['/usr/bin/rs', '--root', ROOT, 'boot-check'],
};

describe('generated text', () => {
  it('drop-in: limits, boot-check, ExecStart reset then <root>/current/<entry>, escaped root', () => {
    expect(systemdDropIn(config(), ROOT, serviceOptions).split('\n')).toEqual([
      HEADER,
      '[Unit]',
      'StartLimitIntervalSec=0',
      '',
      '[Service]',
      HOLD(),
      'ExecStartPre=-/usr/bin/rs --root "/srv/rs app/100%%" boot-check',
      'ExecStart=',
      ...SERVICE,
      '',
    ]);
  });

  it("a service account's system unit: root acting for User= runs the boot-check privileged (+); the account's own root is writable through the sandbox", () => {
    const acting = systemdDropIn(
      config({ supervisor: 'systemd-system', serviceUser: 'openclaw' }),
      ROOT,
      serviceOptions,
    ).split('\n');
    // As root: through `env -i` with a fixed PATH, so nothing of the unit's environment (its PATH, NODE_OPTIONS) reaches it.
    const asRoot =
      '+/usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin NODE_DISABLE_COMPILE_CACHE=1 ';
    expect(acting).toContain(`ExecStartPre=-${asRoot}/usr/bin/rs --root "/srv/rs app/100%%" boot-check`);
    expect(acting).toContainEqual(HOLD(asRoot));
    expect(acting.filter((line) => line.startsWith('ReadWritePaths='))).toEqual([]);
    // The root is the service account's own (it runs release-switcher itself, or there is no other account).
    const own = systemdDropIn(config({ supervisor: 'systemd-system' }), ROOT, serviceOptions).split('\n');
    expect(own).toContain('ExecStartPre=-/usr/bin/rs --root "/srv/rs app/100%%" boot-check');
    expect(own).toContainEqual(HOLD());
    expect(own).toContain('ReadWritePaths=-/srv/rs app/100%%');
    // A user unit: no sandbox to open, nothing added.
    expect(systemdDropIn(config(), ROOT, serviceOptions)).not.toContain('ReadWritePaths=');
  });

  it('whole unit: Description and WantedBy by scope, no ExecStart reset', () => {
    expect(systemdUnit(config(), ROOT, { ...serviceOptions, bootCheck: null }).split('\n')).toEqual([
      HEADER,
      '[Unit]',
      'Description=rs-app (release-switcher root /srv/rs app/100%%)',
      'StartLimitIntervalSec=0',
      '',
      '[Service]',
      HOLD(),
      ...SERVICE,
      '',
      '[Install]',
      'WantedBy=default.target',
      '',
    ]);
    const system = systemdUnit(config({ supervisor: 'systemd-system', serviceUser: 'nobody' }), ROOT, {
      ...serviceOptions,
      drainSeconds: 45,
    });
    expect(system).toContain('\n[Service]\nUser=nobody\n');
    expect(system).toContain('\nWants=network-online.target\nAfter=network-online.target\n');
    expect(system).toContain('\nTimeoutStopSec=55\n');
    expect(system).toContain('\nWantedBy=multi-user.target\n');
  });

  it('a system unit of our own never runs the service as root by default: the service account, else the writer', () => {
    const asRoot = process.getuid?.() === 0;
    const unnamed = () => systemdUnit(config({ supervisor: 'systemd-system' }), ROOT, serviceOptions);
    if (asRoot) expect(unnamed).toThrow(/does not run the service as root by default/);
    else expect(unnamed()).toContain(`\nUser=${userInfo().username}\n`);
    // Named on purpose, root is what it says; a user unit has no User= at all.
    expect(systemdUnit(config({ supervisor: 'systemd-system', serviceUser: 'root' }), ROOT, serviceOptions)).toContain(
      '\nUser=root\n',
    );
    expect(systemdUnit(config({ serviceUser: 'nobody' }), ROOT, serviceOptions)).not.toContain('User=');
  });

  it("defaults: the Node running release-switcher, boot-check through the pinned copy's link, 20 s drain", () => {
    const text = systemdDropIn(config({ node: null }), ROOT, {
      entry: './dist/index.js',
      args: ['gateway', '--port', '18789'],
    });
    const pre = text.split('\n').find((l) => l.startsWith('ExecStartPre='))!;
    // The tool's pinned copy through its link (src/tool/), never this installation's path, which npm may move.
    const home = process.env.RELEASE_SWITCHER_TOOL_HOME!;
    expect(pre).toBe(
      `ExecStartPre=-${home}/current/node ${home}/current/package/dist/cli/main.js --root "/srv/rs app/100%%" boot-check`,
    );
    expect(text).toContain(
      `\nExecStart=${process.execPath} "/srv/rs app/100%%/current/dist/index.js" gateway --port 18789\n`,
    );
    expect(text).toContain('\nTimeoutStopSec=30\n');
  });

  it('escapes Exec words per systemd.syntax and refuses what a unit file cannot hold', () => {
    expect(execWord('/usr/bin/node')).toBe('/usr/bin/node');
    expect(execWord('--port=8080')).toBe('--port=8080');
    expect(execWord('50%')).toBe('50%%');
    expect(execWord('$HOME')).toBe('$$HOME');
    expect(execWord('a b')).toBe('"a b"');
    expect(execWord('say "hi"\\now')).toBe('"say \\"hi\\"\\\\now"');
    expect(execWord("it's")).toBe('"it\'s"');
    expect(execWord('tab\there\n')).toBe('"tab\\x09here\\x0a"');
    expect(execWord('')).toBe('""');
    expect(execWord(';')).toBe('";"');
    expect(() => systemdDropIn(config(), '/srv/a\nb', serviceOptions)).toThrow(/control character/);
    expect(() => systemdDropIn(config(), ROOT, { entry: '../../etc/x.js' })).toThrow(/inside the release/);
  });

  it('paths: user drop-ins under $XDG_CONFIG_HOME (else ~/.config), system ones under /etc', () => {
    expect(dropInPath(config(), { scope: 'user', env: { XDG_CONFIG_HOME: '/x/cfg' } })).toBe(
      '/x/cfg/systemd/user/rs-app.service.d/release-switcher.conf',
    );
    expect(dropInPath(config(), { scope: 'user', env: { HOME: '/home/u' } })).toBe(
      '/home/u/.config/systemd/user/rs-app.service.d/release-switcher.conf',
    );
    expect(dropInPath(config({ unit: 'gw.service' }), { scope: 'system', env: {} })).toBe(
      '/etc/systemd/system/gw.service.d/release-switcher.conf',
    );
    expect(unitPath(config(), { scope: 'system', env: {} })).toBe('/etc/systemd/system/rs-app.service');
    expect(() => dropInPath(config({ unit: '../evil' }), { scope: 'system', env: {} })).toThrow(
      /not a systemd unit name/,
    );
  });
});

/** A root with a hand-made release 1.0.0 (a tiny HTTP server) and `current` pointing at it. */
function handMadeRoot(root: string): void {
  mkdirSync(path.join(root, 'releases', '1.0.0'), { recursive: true });
  writeFileSync(path.join(root, 'releases', '1.0.0', 'server.js'), SERVER);
  symlinkSync(path.join('releases', '1.0.0'), path.join(root, 'current'));
}
const SERVER = `require('node:http').createServer((req, res) => res.end(JSON.stringify({ pid: process.pid, cwd: process.cwd() })))
  .listen(Number(process.argv[2] || 0), '127.0.0.1');
`;
// Space, %, $ and quotes: what a path can hold that means something in a unit file. `${X}` is expanded even inside
// a word (a bare `$X` only as a word of its own), so it is the form that shows `$$` escaping at work.
const ODD_NAME = `app root %i \${HOME} $HOME 'q' "dq" \\b`;

const analyze = existsSync('/usr/bin/systemd-analyze') || existsSync('/bin/systemd-analyze');
describeWhere(
  {
    ok: Boolean(analyze),
    why: 'systemd-analyze is not installed',
    where: 'where systemd is installed: CI installs it (.ci/run)',
  },
  'systemd-analyze verify',
  () => {
    // --user needs a runtime dir to set up its (in-process, never booted) manager; nothing else of the host's.
    async function verify(unitFile: string, scope: 'user' | 'system'): Promise<{ exitCode: number; lines: string[] }> {
      const dir = path.dirname(unitFile);
      mkdirSync(path.join(dir, '..', 'run'), { recursive: true, mode: 0o700 });
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        XDG_RUNTIME_DIR: path.join(dir, '..', 'run'),
      };
      const args = ['verify', '--man=no', ...(scope === 'user' ? ['--user'] : []), unitFile];
      const r = await execa('systemd-analyze', args, { env, extendEnv: false, reject: false, timeout: 30_000 });
      // Warnings (unknown keys, bad values) leave the exit code 0: anything naming our unit or files counts.
      return {
        exitCode: r.exitCode ?? -1,
        lines: `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('rs-app')),
      };
    }

    function setup(): { root: string; units: string } {
      const dir = tempDir('rs-unit-');
      const root = path.join(dir, ODD_NAME);
      handMadeRoot(root);
      const units = path.join(dir, 'units');
      mkdirSync(path.join(units, 'rs-app.service.d'), { recursive: true });
      return { root, units };
    }

    it('passes on the whole unit (user and system) with the default boot-check', async () => {
      const { root, units } = setup();
      for (const scope of ['user', 'system'] as const) {
        writeFileSync(
          path.join(units, 'rs-app.service'),
          systemdUnit(config({ node: null, serviceUser: 'daemon' }), root, {
            entry: 'server.js',
            args: ['8080'],
            scope,
          }),
        );
        expect(await verify(path.join(units, 'rs-app.service'), scope), scope).toEqual({ exitCode: 0, lines: [] });
      }
    });

    it('passes on a unit plus the drop-in, and does read the drop-in (a broken one fails)', async () => {
      const { root, units } = setup();
      writeFileSync(path.join(units, 'rs-app.service'), '[Service]\nExecStart=/bin/sleep 1000\n');
      const dropIn = path.join(units, 'rs-app.service.d', 'release-switcher.conf');
      writeFileSync(dropIn, systemdDropIn(config({ node: null }), root, { entry: 'server.js' }));
      expect(await verify(path.join(units, 'rs-app.service'), 'user')).toEqual({ exitCode: 0, lines: [] });

      writeFileSync(dropIn, '[Service]\nExecStart=\nExecStart=/nonexistent/node x\nNoSuchKey=1\n');
      const broken = await verify(path.join(units, 'rs-app.service'), 'user');
      expect(broken.exitCode).not.toBe(0);
      expect(broken.lines.join('\n')).toMatch(/NoSuchKey[\s\S]*\/nonexistent\/node is not executable/);
    });
  },
);

const support = canRunUserManager();
const title = 'unit --install under a private systemd --user';
if (!support.ok) console.warn(`skipping ${title} tests: ${support.why}`);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port === 18789 ? freePort() : port;
}

describeWhere(support, title, () => {
  let um: UserManager;
  let root: string;
  beforeAll(async () => {
    um = await startUserManager({ name: 'unitfile' });
    root = path.join(um.root, ODD_NAME);
  }, 30_000);
  afterAll(() => um?.stop(), 30_000);
  beforeEach(({ onTestFailed }) =>
    onTestFailed(async () => console.error(`--- manager log ---\n${await um.readLog()}`)),
  );

  // The manager's HOME/XDG_* so the CLI writes into its unit dir and its systemctl talks to it; /bin/true stands in for
  // boot-check, which this test does not exercise.
  const rs = (args: string[]) =>
    cli(['--root', root, '--json', ...args], {
      env: { ...(um.env as Record<string, string>), RELEASE_SWITCHER_BOOT_CHECK: '["/bin/true"]' },
    });
  const show = async (unit: string, props: string[]) => {
    const r = await um.systemctl(['show', unit, ...props.map((p) => `--property=${p}`)]);
    expect(r.exitCode, r.stderr).toBe(0);
    return Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  };
  async function answer(port: number): Promise<{ pid: number; cwd: string }> {
    let body: { pid: number; cwd: string } | undefined;
    await um.waitFor(
      async () => {
        body = await fetch(`http://127.0.0.1:${port}/`)
          .then((r) => r.json() as Promise<typeof body>)
          .catch(() => undefined);
        return body !== undefined;
      },
      { what: `the server on ${port}` },
    );
    return body!;
  }

  it('a drop-in over an existing unit makes it run <root>/current/server.js with the limits it sets', async () => {
    expect(
      (await rs(['init', '--package', 'rs-app', '--supervisor', 'systemd', '--unit', 'rs-app.service'])).exitCode,
    ).toBe(0);
    handMadeRoot(root);
    const log = path.join(um.root, 'rs-app.log');
    await um.writeUnit(
      'rs-app.service',
      `[Service]\nExecStart=/bin/sleep 1000\nStandardOutput=append:${log}\nStandardError=append:${log}\n`,
    );
    const port = await freePort();

    const printed = await rs(['unit', '--entry', 'server.js', '--arg', String(port)]);
    expect(printed.exitCode, printed.stderr).toBe(0);
    const expectedPath = path.join(um.unitDir, 'rs-app.service.d', 'release-switcher.conf');
    expect(printed.json.result).toMatchObject({ path: expectedPath, kind: 'drop-in', installed: false });
    expect(existsSync(expectedPath)).toBe(false);
    // What a person sees: stdout is exactly the drop-in (`unit > file` gives the file --install writes), the notes on stderr.
    const shown = await cli(['--root', root, 'unit', '--entry', 'server.js', '--arg', String(port)], {
      env: { ...(um.env as Record<string, string>), RELEASE_SWITCHER_BOOT_CHECK: '["/bin/true"]' },
    });
    expect(shown.exitCode, shown.stderr).toBe(0);
    expect(`${shown.stdout}\n`).toBe(printed.json.result.content); // execa strips one final newline
    expect(shown.stderr).toContain(
      "kept: WorkingDirectory: none (systemd's default: the user's home for a user service, / for a system one)",
    );
    expect(shown.stderr).toContain('changed: ExecStart (/bin/sleep 1000) -> runs server.js of');

    const installed = await rs(['unit', '--install', '--entry', 'server.js', '--arg', String(port)]);
    expect(installed.exitCode, installed.stdout + installed.stderr).toBe(0);
    expect(installed.json.result).toEqual({ ...printed.json.result, installed: true });
    expect(readFileSync(expectedPath, 'utf8')).toBe(printed.json.result.content);

    const start = await um.systemctl(['start', 'rs-app.service']);
    expect(start.exitCode, start.stderr).toBe(0);
    const served = await answer(port);
    const props = await show('rs-app.service', [
      'MainPID',
      'StartLimitIntervalUSec',
      'RestartPreventExitStatus',
      'TimeoutStopUSec',
      'Restart',
      'WorkingDirectory',
      'ExecStartPre',
      'DropInPaths',
    ]);
    expect(Number(props.MainPID)).toBe(served.pid);
    // systemd parsed the quoted, %- and $-escaped words back into exactly these arguments.
    const argv = readFileSync(`/proc/${served.pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
    expect(argv).toEqual([process.execPath, path.join(root, 'current', 'server.js'), String(port)]);
    // The unit has no WorkingDirectory=: the drop-in adds none, so it runs where systemd runs a user service, in $HOME.
    expect(printed.json.result.content).not.toMatch(/WorkingDirectory/);
    expect(printed.json.result.kept).toContain(
      "WorkingDirectory: none (systemd's default: the user's home for a user service, / for a system one)",
    );
    expect(served.cwd).toBe(realpathSync(um.env.HOME!));
    expect(props).toMatchObject({
      StartLimitIntervalUSec: '0',
      RestartPreventExitStatus: '78',
      TimeoutStopUSec: '30s',
      Restart: 'always',
      WorkingDirectory: `!${um.env.HOME}`,
      DropInPaths: expectedPath,
    });
    expect(props.ExecStartPre).toMatch(/path=\/bin\/true ; argv\[\]=\/bin\/true ; ignore_errors=yes/);
  }, 60_000);

  it("the operator guide's unit, which already runs node <root>/current/server.js: --install needs no --entry", async () => {
    expect((await rs(['init', '--unit', 'rs-guide.service'])).exitCode).toBe(0);
    const port = await freePort();
    const script = path.join(root, 'current', 'server.js');
    const command = [process.execPath, script, String(port)].map(execWord).join(' ');
    await um.writeUnit('rs-guide.service', `[Service]\nExecStart=${command}\n`);
    const installed = await rs(['unit', '--install']);
    expect(installed.exitCode, installed.stdout + installed.stderr).toBe(0);
    expect(installed.json.result).toMatchObject({ kind: 'drop-in', installed: true });
    expect(installed.json.result.content).toContain(`\nExecStart=\nExecStart=${command}\n`);
    expect(installed.json.result.kept).toContain(
      `ExecStart: ${script} (it already runs ${path.join(root, 'current')})`,
    );
    const start = await um.systemctl(['start', 'rs-guide.service']);
    expect(start.exitCode, start.stderr).toBe(0);
    const served = await answer(port);
    expect(readFileSync(`/proc/${served.pid}/cmdline`, 'utf8').split('\0').slice(0, -1)).toEqual([
      process.execPath,
      script,
      String(port),
    ]);
    expect((await show('rs-guide.service', ['ExecStartPre'])).ExecStartPre).toMatch(/path=\/bin\/true/);
    expect((await um.systemctl(['stop', 'rs-guide.service'])).exitCode).toBe(0);

    // A unit whose Node script is neither the package's nor the root's: --entry is asked for, naming what it runs.
    const elsewhere = path.join(um.root, 'elsewhere.js');
    writeFileSync(elsewhere, SERVER);
    await um.writeUnit(
      'rs-guide.service',
      `[Service]\nExecStart=${execWord(process.execPath)} ${execWord(elsewhere)}\n`,
    );
    const refused = await rs(['unit', '--install']);
    expect([refused.exitCode, refused.json.error.code]).toEqual([2, 'USAGE']);
    expect(refused.json.error.message).toBe(
      `Cannot tell which file of rs-app to run: rs-guide.service runs ${process.execPath} ${elsewhere}; its script ${elsewhere} is neither under ${path.join(root, 'current')} nor in a node_modules/rs-app/ folder.`,
    );
    expect(refused.json.error.hint).toMatch(/--entry FILE/);
  }, 60_000);

  it('without a unit, --install writes a whole unit, and rewrites it (not a drop-in over it) when run again', async () => {
    expect((await rs(['init', '--unit', 'rs-new'])).exitCode).toBe(0);
    const port = await freePort();
    for (let i = 0; i < 2; i++) {
      const r = await rs(['unit', '--install', '--entry', 'server.js', '--arg', String(port)]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.json.result).toMatchObject({
        path: path.join(um.unitDir, 'rs-new.service'),
        kind: 'unit',
        installed: true,
      });
    }
    expect(existsSync(path.join(um.unitDir, 'rs-new.service.d'))).toBe(false);
    const start = await um.systemctl(['start', 'rs-new.service']);
    expect(start.exitCode, start.stderr).toBe(0);
    const served = await answer(port);
    expect((await show('rs-new.service', ['MainPID'])).MainPID).toBe(String(served.pid));
    expect(readlinkSync(path.join(root, 'current'))).toBe(path.join('releases', '1.0.0'));
  }, 60_000);
});

describe('unit for other supervisors', () => {
  it('launchd: prints a plist running <root>/current/<entry>; --install writes a new one, regenerates its own (a plist of somebody else is merged: plist.registry.test.ts)', async () => {
    const dir = tempDir('rs-unit-');
    const root = path.join(dir, 'root');
    const rs = (args: string[]) => cli(['--root', root, '--json', ...args], { env: { HOME: path.join(dir, 'home') } });
    expect(
      (await rs(['init', '--package', 'rs-app', '--supervisor', 'launchd', '--unit', 'ai.example.app'])).exitCode,
    ).toBe(0);
    const plist = path.join(dir, 'home', 'Library', 'LaunchAgents', 'ai.example.app.plist');
    const printed = await rs(['unit', '--entry', 'server.js', '--arg', '8080']);
    expect(printed.json.result).toMatchObject({ path: plist, kind: 'plist', installed: false });
    expect(printed.json.result.content).toContain(
      `<array>\n    <string>${process.execPath}</string>\n    <string>${root}/current/server.js</string>\n    <string>8080</string>\n  </array>`,
    );
    expect(printed.json.result.content).toContain(`<key>WorkingDirectory</key>\n  <string>${root}/current</string>`);
    const installed = await rs(['unit', '--install', '--entry', 'server.js', '--arg', '8080']);
    expect(installed.json.result).toEqual({ ...printed.json.result, installed: true });
    expect(readFileSync(plist, 'utf8')).toBe(printed.json.result.content);
    const again = await rs(['unit', '--install', '--entry', 'server.js']);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(again.json.result.kept).toBeUndefined(); // ours: regenerated, not merged
    expect(readFileSync(plist, 'utf8')).toBe(printed.json.result.content.replace('    <string>8080</string>\n', ''));
  });

  it('pm2 and none: UNSUPPORTED, exit 1', async () => {
    const root = path.join(tempDir('rs-unit-'), 'root');
    for (const supervisor of ['pm2', 'none']) {
      expect(
        (
          await cli([
            '--root',
            root,
            '--json',
            'init',
            '--package',
            'rs-app',
            '--supervisor',
            supervisor,
            '--unit',
            'rs-app',
          ])
        ).exitCode,
      ).toBe(0);
      const r = await cli(['--root', root, '--json', 'unit', '--entry', 'server.js']);
      expect({ exitCode: r.exitCode, code: r.json?.error?.code }, r.stdout + r.stderr).toEqual({
        exitCode: 1,
        code: 'UNSUPPORTED',
      });
    }
  });

  it("without --entry: the current release's package.json main; none at all is a usage error", async () => {
    const root = path.join(tempDir('rs-unit-'), 'root');
    const rs = (args: string[]) =>
      cli(['--root', root, '--json', ...args], {
        env: { XDG_CONFIG_HOME: path.join(root, 'cfg'), XDG_RUNTIME_DIR: path.join(root, 'no-run') },
      });
    expect((await rs(['init', '--package', 'rs-app', '--supervisor', 'systemd', '--unit', 'rs-app'])).exitCode).toBe(0);
    expect((await rs(['unit'])).json?.error?.code).toBe('USAGE');
    handMadeRoot(root);
    writeFileSync(
      path.join(root, 'releases', '1.0.0', 'package.json'),
      JSON.stringify({ name: 'rs-app', main: './lib/main.js' }),
    );
    const r = await rs(['unit']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result.content).toContain(`\nExecStart=${process.execPath} ${root}/current/lib/main.js\n`);
  });
});
