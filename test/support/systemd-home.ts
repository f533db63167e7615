// The files of a private `systemd --user` manager (see systemd.ts): its isolated HOME and XDG dirs with the distro's
// noisy units masked, and the FIFO it logs into in place of /dev/kmsg. A manager owned by another account gets them
// owned by that account, as pam_systemd and user-runtime-dir@.service give a real one.
import { constants, createWriteStream, lchownSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { chmod, chown, symlink } from 'node:fs/promises';
import { Socket } from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { type Account, accountDir } from './accounts.ts';
import { readdirQuietly } from './systemd-cleanup.ts';
import { toolHomeFor } from './tool-home.ts';

/** Makes `dir` (its parent must exist), owned by `owner` (0700) or, without one, by the test process. */
function makeDir(dir: string, owner: Account | undefined): void {
  if (owner) accountDir(owner, dir);
  else mkdirSync(dir, { recursive: true });
}

/**
 * Where a login's manager keeps its files (pam_systemd, user-runtime-dir@.service): HOME the account's own from the
 * password database, the XDG dirs their defaults under it, XDG_RUNTIME_DIR /run/user/UID. What a tool finds from the
 * account alone (Ansible's become_user). The caller gives a dedicated account: its home is the test's.
 */
export function loginDirs(owner: Account): Record<string, string> {
  const home = owner.home;
  return {
    HOME: home,
    XDG_RUNTIME_DIR: `/run/user/${owner.uid}`,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local', 'share'),
    XDG_STATE_HOME: path.join(home, '.local', 'state'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
  };
}

/**
 * HOME and XDG dirs, distro units masked, and the environment that points at them: isolated under `root`, or (`login`)
 * where a login has them (loginDirs).
 */
export async function prepareHome(
  root: string,
  owner?: Account,
  options: { login?: boolean } = {},
): Promise<NodeJS.ProcessEnv> {
  const dir = (name: string) => path.join(root, name);
  const login = options.login && owner ? loginDirs(owner) : undefined;
  if (login) {
    // A stale runtime dir (a manager killed with its test process) would hold a dead manager's sockets.
    rmSync(login.XDG_RUNTIME_DIR!, { recursive: true, force: true });
    mkdirSync('/run/user', { recursive: true, mode: 0o755 });
  }
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    HOME: dir('home'),
    XDG_RUNTIME_DIR: dir('run'),
    XDG_CONFIG_HOME: dir('config'),
    XDG_DATA_HOME: dir('data'),
    XDG_STATE_HOME: dir('state'),
    XDG_CACHE_HOME: dir('cache'),
    ...login,
    SYSTEMD_PAGER: '',
    SYSTEMD_COLORS: '0',
    // What a login gives the account's manager (pam_systemd); root's manager has always run without them.
    ...(owner ? { USER: owner.name, LOGNAME: owner.name } : {}),
    // The CLI is run with this environment (um.env): its init as root adds the root to this manager's own list of
    // roots, never the machine's, nor the run's (vitest.config.ts), which other files' roots go to: `--all` run with
    // it sees this manager's roots only.
    RELEASE_SWITCHER_SYSTEM_ROOTS: path.join(root, 'system-roots.json'),
    // release-switcher's pinned copy: the account's one for this run (tool-home.ts).
    RELEASE_SWITCHER_TOOL_HOME: toolHomeFor(owner),
  };
  const unitDir = path.join(env.XDG_CONFIG_HOME!, 'systemd', 'user');
  const dirs = ['HOME', 'XDG_RUNTIME_DIR', 'XDG_DATA_HOME', 'XDG_STATE_HOME', 'XDG_CACHE_HOME', 'XDG_CONFIG_HOME'];
  // One level at a time, so that every folder on the way to the unit dir is the owner's too (and ~/.local of a login).
  const folders = dirs.map((key) => env[key]!);
  if (login) folders.splice(2, 0, path.dirname(env.XDG_DATA_HOME!));
  for (const folder of [...folders, path.dirname(unitDir), unitDir]) makeDir(folder, owner);
  await chmod(env.XDG_RUNTIME_DIR!, 0o700); // systemd refuses a runtime dir others can read
  for (const unit of unitsToMask()) {
    const link = path.join(unitDir, unit);
    rmSync(link, { force: true }); // a login's unit dir keeps the masks of an earlier run
    await symlink('/dev/null', link);
    if (owner) lchownSync(link, owner.uid, owner.gid);
  }
  return env;
}

// Distro user units that would start (or socket-activate) in a bare manager: agents and D-Bus need a session this
// manager does not have, and a failed one leaves it `degraded`. Masked with links to /dev/null.
const KNOWN_NOISY = [
  'dbus.socket',
  'dbus.service',
  'dirmngr.socket',
  'dirmngr.service',
  'gpg-agent.socket',
  'gpg-agent.service',
  'gpg-agent-browser.socket',
  'gpg-agent-extra.socket',
  'gpg-agent-ssh.socket',
  'ssh-agent.service',
  'pk-debconf-helper.socket',
  'pk-debconf-helper.service',
  'at-spi-dbus-bus.service',
  'dconf.service',
  'pipewire.socket',
  'pipewire-pulse.socket',
  'pulseaudio.socket',
  'wireplumber.service',
];
const USER_UNIT_DIRS = [
  '/etc/systemd/user',
  '/etc/xdg/systemd/user',
  '/usr/local/lib/systemd/user',
  '/usr/lib/systemd/user',
];

/** KNOWN_NOISY plus every service/socket/timer/path that the distro enabled through a `*.wants`/`*.requires` dir. */
function unitsToMask(): string[] {
  const units = new Set(KNOWN_NOISY);
  for (const dir of USER_UNIT_DIRS) {
    for (const sub of readdirQuietly(dir).filter((d) => /\.(wants|requires)$/.test(d))) {
      for (const unit of readdirQuietly(path.join(dir, sub))) {
        if (/\.(service|socket|timer|path)$/.test(unit) && !unit.startsWith('systemd-')) units.add(unit);
      }
    }
  }
  return [...units];
}

export interface KmsgLog {
  /** Bound over /dev/kmsg in the manager's namespace. */
  fifo: string;
  /** Where everything written to the FIFO is appended. */
  file: string;
  close(): Promise<void>;
}

// Why a FIFO and not a plain file bound over /dev/kmsg: every process that opens /dev/kmsg gets its own file offset
// at 0, so a unit's forked child logging "Failed to connect stdout to the journal socket" or "Failed at step EXEC"
// overwrote the start of the manager's log. Through a FIFO each record is one atomic write, appended in order.
export async function openKmsgLog(root: string, owner?: Account): Promise<KmsgLog> {
  const fifo = path.join(root, 'kmsg.fifo');
  const file = path.join(root, 'manager.log');
  await execa('mkfifo', ['-m', '0600', fifo], { timeout: 5_000 });
  // The manager opens it for writing after it has become the owner; we read it as root.
  if (owner) await chown(fifo, owner.uid, owner.gid);
  // O_RDWR: we count as a writer too, so the reader never sees EOF before the manager opens it (or between opens).
  // A net.Socket reads it on the event loop; fs streams would park a threadpool thread per manager on a FIFO.
  const reader = new Socket({
    fd: openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK),
    readable: true,
    writable: false,
  });
  const out = createWriteStream(file, { flags: 'a' });
  reader.pipe(out);
  reader.unref(); // a forgotten manager must not keep the test process alive
  return {
    fifo,
    file,
    close: () =>
      new Promise<void>((resolve) => {
        out.once('close', resolve);
        reader.unpipe(out);
        reader.destroy();
        out.end();
      }),
  };
}
