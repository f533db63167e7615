// Issue 48, deliver 4 and the privileged commands of deliver 2: OpenClaw's Ansible role unit, verbatim (User=, PATH with
// the account's ~/.local/bin first), for a service account of this file's own, on a private systemd system manager, with
// the fixture gateway switched by our built CLI inside the manager's namespaces. The attacker is the service account
// with its own rights only: it plants ~/.local/bin/systemctl and a NODE_OPTIONS module (named by the unit's
// Environment=, as an operator's instrumentation would be), and root's privileged boot-check, run at every start, must
// run neither. Then the account on a root of its own: a restart that sudo refuses (no sudoers line for it) is
// PERMISSION_DENIED, nothing changed; a drop-in it cannot read is said, not left out. The account's home is private to
// the manager (privateHome).
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, inject, test } from 'vitest';
import { type Account, account, asAccount } from '../support/accounts.ts';
import { freePort } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { type SystemManager, startSystemManager } from '../support/system-manager.ts';
import {
  accountSystemctlInside,
  canRunRoleBed,
  clientBin,
  cliInside,
  healthOn,
  privateHome,
  roleBed,
  openRootsToolHome,
  toolHomeInside,
} from '../support/system-manager-client.ts';

const support = canRunRoleBed();
const PKG = 'rs-fixture-gateway';
const UNIT = 'openclaw.service';
const SECURE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

describeWhere(support, "the role's unit: privileged commands and refusals, the service account as the attacker", () => {
  let sm: SystemManager;
  let who: Account;
  let port: number;
  let node: string;
  let main: string;
  let root: string;
  let home: string;
  let log: string;
  let insideBin: string | undefined;
  /** The uids that ran an attacker's plant: each run leaves `~/.local/marker-<name>.<uid>` (a file of the runner's own). */
  const ranAs = (name: string) =>
    readdirSync(path.join(home, '.local'))
      .filter((file) => file.startsWith(`marker-${name}.`))
      .map((file) => file.slice(`marker-${name}.`.length));

  const rs = (args: string[], as?: Account, at = root) =>
    cliInside(
      sm,
      {
        node,
        main,
        root: at,
        home: as ? path.join(who.home, '.local', 'rs-priv') : path.join(sm.base, 'home-root'),
        as,
        pathFirst: as ? insideBin : undefined,
      },
      args,
    );
  const health = () => healthOn(port);
  /** As the account, with its own rights: a file of its own, executable. */
  const plant = (file: string, text: string) => {
    const [cmd, argv] = asAccount(who, '/bin/sh', [
      '-c',
      'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod 755 "$1"',
      'sh',
      file,
    ]);
    execFileSync(cmd, argv, { input: text });
  };

  beforeAll(async () => {
    // A service account of this file's own: sudo reads every file's sudoers lines, and another file's role lines for
    // rs-openclaw would let it restart `openclaw` in this manager too.
    who = account('rs-oc-priv', { system: true });
    sm = await startSystemManager({ name: 'priv' });
    home = await privateHome(sm, who);
    ({ port, node, main, root, log } = await roleBed(sm, who, { port: await freePort(), home }));
    // The unit's own environment names a module of the account's (an operator's instrumentation for the gateway).
    const module = path.join(who.home, '.local', 'instrument.cjs');
    plant(
      path.join(home, '.local', 'instrument.cjs'),
      `require('node:fs').writeFileSync(${JSON.stringify(path.join(who.home, '.local', 'marker-node-options.'))} + process.getuid(), '');\n`,
    );
    await sm.writeDropIn(UNIT, '00-test-env', `[Service]\nEnvironment=NODE_OPTIONS=--require=${module}\n`);
  }, 60_000);
  afterAll(async () => {
    await sm?.stop();
  }, 30_000);
  beforeEach(({ onTestFailed }) => {
    onTestFailed(async () => {
      const out = existsSync(log) ? readFileSync(log, 'utf8') : '';
      console.error(`--- manager log ---\n${await sm.readLog()}\n--- gateway output ---\n${out}`);
    });
  });

  test('root for the account: the drop-in is 0644 and its + boot-check runs env -i, by absolute paths; the account cannot make it run its files', async () => {
    const init = await rs([
      ...['init', '--package', PKG, '--registry', inject('registryUrl'), '--supervisor', 'systemd-system'],
      ...['--unit', 'openclaw', '--node', node, '--health-url', `http://127.0.0.1:${port}/health`],
      ...['--verify-timeout', '15', '--stable-for', '1'],
    ]);
    expect(init.exitCode, init.said).toBe(0);
    const unit = await rs(['unit', '--install', '--entry', 'server.js', '--arg=--port', '--arg', String(port)]);
    expect(unit.exitCode, unit.said).toBe(0);
    const file = path.join(sm.unitDir, `${UNIT}.d`, 'release-switcher.conf');
    expect(statSync(file).mode & 0o777).toBe(0o644);
    const dropIn = readFileSync(file, 'utf8');
    const asRoot = `+/usr/bin/env -i PATH=${SECURE_PATH} NODE_DISABLE_COMPILE_CACHE=1`;
    // Root's own pinned copy of release-switcher (src/tool/), through its link; not the service's Node, not npm's path.
    const tool = path.join(toolHomeInside(path.join(sm.base, 'home-root')), 'current');
    expect(dropIn).toContain(
      `ExecStartPre=-${asRoot} ${tool}/node ${tool}/package/dist/cli/main.js --root ${root} boot-check\n`,
    );
    expect(dropIn).not.toContain(main);
    expect(dropIn).toMatch(new RegExp(`^ExecCondition=${asRoot.replace(/[+.]/g, '\\$&')} /bin/sh -c `, 'm'));
    for (const version of ['1.0.0', '1.1.0']) {
      const installed = await rs(['install', `${PKG}@${version}`]);
      expect(installed.exitCode, installed.said).toBe(0);
    }
    const first = await rs(['switch', '1.0.0']);
    expect(first.exitCode, first.said).toBe(0);

    // The attacker: a systemctl of its own first on the unit's PATH, recording who ran it, then passing through.
    plant(
      path.join(home, '.local', 'bin', 'systemctl'),
      `#!/bin/sh\ntouch ${path.join(who.home, '.local', 'marker-systemctl')}.$(id -u)\nexec /usr/bin/systemctl "$@"\n`,
    );
    // Control: a `+` command of the unit's shape that looks systemctl up on the unit's PATH runs the plant as root.
    await sm.writeUnit(
      'rs-control.service',
      `[Service]\nType=oneshot\nUser=${who.name}\nEnvironment=PATH=${who.home}/.local/bin:/usr/bin:/bin\nExecStartPre=+/bin/sh -c 'systemctl --version >/dev/null'\nExecStart=/bin/true\n`,
    );
    const control = await sm.systemctl(['start', 'rs-control.service']);
    expect(control.exitCode, control.stderr).toBe(0);
    expect(ranAs('systemctl')).toEqual(['0']);
    rmSync(path.join(home, '.local', 'marker-systemctl.0'));

    const pidBefore = await sm.mainPid(UNIT);
    const up = await rs(['switch', '1.1.0']); // a stop and a start: the boot-check runs as root before the start
    expect(up.exitCode, up.said).toBe(0);
    expect(up.json.result).toMatchObject({ status: 'verified', to: '1.1.0' });
    expect(await sm.mainPid(UNIT)).not.toBe(pidBefore);
    expect((await health())?.version).toBe('1.1.0');
    expect(readFileSync(log, 'utf8')).toMatch(/boot-check: 1\.1\.0 counted \(start 1\)/); // it did run, as root
    expect(ranAs('systemctl')).toEqual([]); // the plant never ran
    // The gateway itself loads the module, as the account (what the unit asks); the boot-check never did, as root.
    expect(ranAs('node-options')).toEqual([String(who.uid)]);

    // doctor judges the boot-check by what it is: privileged, so the role's sandbox does not bind it.
    const doctor = await rs(['doctor']);
    expect(doctor.json?.result?.checks, doctor.said).toContainEqual(
      expect.objectContaining({ name: 'boot-check-writes', ok: true, detail: expect.stringContaining('privileged') }),
    );
  }, 240_000);

  test('the account on a root of its own: a restart sudo refuses is PERMISSION_DENIED, nothing changed; a drop-in it cannot read is said', async () => {
    insideBin = await accountSystemctlInside(sm, who); // the role's sudoers lines (restart among them) and reads
    const own = path.join(who.home, '.local', 'rs-priv', 'root');
    const ownOnHost = path.join(home, '.local', 'rs-priv');
    mkdirSync(path.join(ownOnHost, 'npm'), { recursive: true });
    for (const dir of [ownOnHost, path.join(ownOnHost, 'npm')]) chownSync(dir, who.uid, who.gid);
    writeFileSync(path.join(ownOnHost, 'npm', 'npmrc'), '');
    const init = await rs(
      [
        ...['init', '--package', PKG, '--registry', inject('registryUrl'), '--supervisor', 'systemd-system'],
        ...[
          '--unit',
          'openclaw',
          '--node',
          node,
          '--health-url',
          `http://127.0.0.1:${port}/health`,
          '--stable-for',
          '1',
        ],
      ],
      who,
      own,
    );
    expect(init.exitCode, init.said).toBe(0);
    const entry = ['--entry', 'server.js', '--arg=--port', '--arg', String(port)];
    // The account may not write /etc/systemd/system: told to run it as root, never to take the folder.
    const denied = await rs(['unit', '--install', ...entry], who, own);
    expect(denied.json?.error, denied.said).toMatchObject({
      code: 'PERMISSION_DENIED',
      hint: expect.stringContaining('sudo release-switcher unit --install'),
    });
    expect(denied.json.error.hint).not.toMatch(/chown|chmod/);
    // Root's unit for the account's own root names root's pinned copy, which the account's boot-check must reach (unit
    // refuses otherwise: service-account.system.test.ts): root's tool home made readable as the default
    // /var/lib/release-switcher/tool is.
    openRootsToolHome(path.join(sm.base, 'home-root'));
    const byRoot = await rs(['unit', '--install', ...entry], undefined, own);
    expect(byRoot.exitCode, byRoot.said).toBe(0);
    const file = path.join(sm.unitDir, `${UNIT}.d`, 'release-switcher.conf');
    // A drop-in as an older version wrote it (0600): the account's print says so rather than print a unit without it.
    chmodSync(file, 0o600);
    const unreadable = await rs(['unit', ...entry], who, own);
    expect(unreadable.exitCode, unreadable.said).toBe(1);
    expect(unreadable.json.error).toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringContaining(`Cannot read /etc/systemd/system/${UNIT}.d/release-switcher.conf`), // as the CLI sees it
    });
    chmodSync(file, 0o644);
    const printed = await rs(['unit', ...entry], who, own);
    expect(printed.exitCode, printed.said).toBe(0);
    // The same drop-in, but for the pinned copy it names: root's where root writes it (readable by every account, only
    // root may change it), the account's own where the account would.
    const rootsTool = path.join(toolHomeInside(path.join(sm.base, 'home-root')), 'current');
    const ownTool = path.join(who.home, '.local', 'share', 'release-switcher-tool', 'current');
    expect(byRoot.json.result.content).toContain(
      `ExecStartPre=-${rootsTool}/node ${rootsTool}/package/dist/cli/main.js`,
    );
    expect(printed.json.result).toMatchObject({
      kind: 'drop-in',
      content: byRoot.json.result.content.replaceAll(rootsTool, ownTool),
    });

    for (const version of ['1.0.0', '1.1.0']) {
      const installed = await rs(['install', `${PKG}@${version}`], who, own);
      expect(installed.exitCode, installed.said).toBe(0);
    }
    const first = await rs(['switch', '1.0.0'], who, own);
    expect(first.exitCode, first.said).toBe(0);
    // Now the sudoers lines only let it read the manager: no restart line.
    await clientBin(sm, {
      sudoers: () => `${who.name} ALL=(root) NOPASSWD: ${path.join(sm.base, 'systemctl-read')} *`,
    });
    const pid = await sm.mainPid(UNIT);
    const up = await rs(['update', `${PKG}@1.1.0`], who, own);
    expect(up.exitCode, up.said).toBe(1);
    expect(up.json.error).toMatchObject({
      code: 'PERMISSION_DENIED',
      hint: expect.stringContaining(`${who.name} ALL=(root) NOPASSWD: /usr/bin/systemctl restart openclaw`),
    });
    expect(up.json.result).toMatchObject({ status: 'failed', reason: 'permission_denied', from: '1.0.0', to: '1.1.0' });
    expect(await sm.mainPid(UNIT)).toBe(pid); // the service untouched
    expect((await health())?.version).toBe('1.0.0');
    const list = await rs(['list'], who, own);
    expect(list.json.result).toMatchObject({ current: '1.0.0' });
    expect(list.json.result.releases.find((r: { version: string }) => r.version === '1.1.0').state).toBe('installed');
  }, 240_000);
});
