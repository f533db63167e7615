// A private, real systemd **system** manager for tests of system units (`User=`, the sandboxing options), on machines
// whose PID 1 is not systemd. Recipe and why each step is there: docs/testing.md, "A private systemd in tests". It
// boots as PID 1 of a new PID+mount+UTS namespace (`env -i … container=<name> setsid unshare --pid --fork
// --mount --mount-proc --uts --propagation private`); its boot script, before it becomes systemd, shields the host:
// - its own cgroup (`<cgroup2>/rs-sysmgr-…`): else the manager adopts the host's root cgroup;
// - `container=`: else it acts as the host's init;
// - read-only /proc/sys: else it raises host sysctls;
// - a pure cgroup2 on /sys/fs/cgroup, then /sys read-only (a bind remount: the flag of this mount only): else it
//   remounts the host's shared cgroup tmpfs read-only;
// - private /run, /etc/systemd/system, /usr/lib/systemd/system (stub targets only) and an empty system-generators:
//   with the host's unit dirs its tmpfiles setup empties the host's /tmp and the distro's units start;
// - private /tmp and /var/tmp: `PrivateTmp=` folders and anything a unit leaves there stay in our folder;
// - a private /usr/local/sbin (linkCommand): systemd 252 finds a bare `ExecStart=` name only on its compiled-in path;
// - /dev/null over /dev/console, a FIFO over /dev/kmsg (the log).
// Its folders live under /var/lib, never under /tmp: what a sandboxed unit runs must be outside the /tmp and /var/tmp
// that `PrivateTmp=true` hides. Those folders and its cgroup are named `rs-sysmgr-<test process's PID>-…`, so a later
// start sweeps what a killed test process left (sweepStaleSystemManagers).
//
// Clients: systemctl must share the manager's mount AND PID namespace (`nsenter -t <pid> -m -p`; anything else gets
// "Transport endpoint is not connected" or "Running in chroot"), which needs root. As root, `systemd-run` (service or
// scope) works too, over the private socket, with no D-Bus. A non-root client meets what it meets on a real machine
// without polkit: no way to the manager except `sudo` with a sudoers rule (OpenClaw's Ansible role: `sudo systemctl
// restart openclaw`, see ansible-unit.ts). sudo is not in a minimal Debian: .ci/run installs it. system-manager-client.ts
// gives a CLI on the host `systemctl`, `systemd-run` and `sudo` wrappers to put first on its PATH, and the sudoers lines.
// From INSIDE a `NoNewPrivileges=true` unit sudo refuses outright ("no new privileges" flag), and a non-root
// `systemctl`/`systemd-run` there finds no bus: a service of the role's unit cannot restart itself.
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa, execaSync } from 'execa';
import { isAlive, procsUnder, removeTree, track } from './systemd-cleanup.ts';
import { openKmsgLog } from './systemd-home.ts';
import { createSystemHandle, type SystemManager } from './system-manager-handle.ts';

export type { SystemManager } from './system-manager-handle.ts';

const SYSTEMD = '/usr/lib/systemd/systemd';
const UNIT_DIR = '/usr/lib/systemd/system';
/** Where its folders go: outside /tmp and /var/tmp (see the header). */
export const SYSTEM_MANAGER_HOME = '/var/lib';
export const SYSTEM_MANAGER_PREFIX = 'rs-sysmgr-';
const SUDOERS_DIR = '/etc/sudoers.d';
const BOOT_TIMEOUT_MS = 10_000;
const PATH_INSIDE = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** The test target it boots into; units a test starts need nothing else. */
export const TEST_TARGET = 'rs-test.target';

let support: { ok: boolean; why?: string; where?: string } | undefined;

/** Whether this machine can boot a private system manager; `why` says what is missing. Probes once per process. */
export function canRunSystemManager(): { ok: boolean; why?: string; where?: string } {
  support ??= probe();
  return support;
}

function probe(): { ok: boolean; why?: string; where?: string } {
  const where = 'in CI, which runs the suite as root on Linux';
  const no = (reason: string) => ({
    ok: false,
    why: `${reason}; a private systemd system manager needs root on Linux (PID+mount namespaces, cgroup2 writes)`,
    where,
  });
  if (process.platform !== 'linux') return no(`platform is ${process.platform}`);
  if (process.getuid?.() !== 0) return no(`not root (uid ${process.getuid?.()})`);
  const missing = [SYSTEMD, '/usr/bin/nsenter', '/usr/bin/unshare', '/usr/bin/setsid', '/usr/bin/setpriv'];
  const absent = [...missing, '/usr/local/sbin', `${UNIT_DIR}-generators`].filter((file) => !existsSync(file));
  if (absent.length > 0) return no(`missing ${absent.join(', ')}`);
  if (cgroup2() === undefined) return no('no cgroup2 hierarchy (/sys/fs/cgroup or /sys/fs/cgroup/unified)');
  const pidns = ['--pid', '--fork', '--mount', '--mount-proc', '--uts', '--propagation', 'private', 'true'];
  const tried = execaSync('unshare', pidns, { reject: false, timeout: 5_000 });
  if (tried.exitCode !== 0) return no(`unshare --pid --mount --uts failed: ${String(tried.stderr).trim()}`);
  return { ok: true };
}

/** The host's cgroup2 hierarchy: the whole of /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid layout. */
function cgroup2(): string | undefined {
  return ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'].find((dir) => existsSync(path.join(dir, 'cgroup.controllers')));
}

// The namespace's PID 1 until it execs systemd. Fixed text; paths arrive as positional parameters, never spliced in.
const BOOT_SCRIPT = `set -e
base="$1"; cgroup="$2"; target="$3"
echo 0 > "$cgroup/cgroup.procs"
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -o remount,bind,ro /sys
for dir in run tmp var/tmp etc/systemd/system usr/lib/systemd/system usr/lib/systemd/system-generators usr/local/sbin; do
  mount --bind "$base/root/$dir" "/$dir"
done
mount --bind /dev/null /dev/console
mount --bind "$base/kmsg.fifo" /dev/kmsg
exec ${SYSTEMD} --system --unit="$target" --log-target=kmsg --show-status=no`;

/** Stub targets (no distro unit ever loads) plus the host's own units that `systemctl exit` needs. */
function writeStubUnits(dir: string): void {
  const stub = (description: string) => `[Unit]\nDescription=${description} (test bed stub)\n`;
  for (const name of ['sysinit', 'basic', 'network', 'network-online', 'multi-user']) {
    writeFileSync(path.join(dir, `${name}.target`), stub(name));
  }
  writeFileSync(path.join(dir, TEST_TARGET), `${stub('test')}Requires=basic.target\nAfter=basic.target\n`);
  for (const unit of ['shutdown.target', 'umount.target', 'final.target', 'exit.target', 'systemd-exit.service']) {
    copyFileSync(path.join(UNIT_DIR, unit), path.join(dir, unit));
  }
}

/** Its private folders under `base/root/<mount point>`, bound over those mount points inside the namespace. */
function makeRoot(base: string): void {
  const modes: Record<string, number> = { tmp: 0o1777, 'var/tmp': 0o1777 };
  for (const dir of [
    'run',
    'tmp',
    'var/tmp',
    'etc/systemd/system',
    'usr/lib/systemd/system',
    'usr/lib/systemd/system-generators',
    'usr/local/sbin',
  ]) {
    mkdirSync(path.join(base, 'root', dir), { recursive: true, mode: modes[dir] ?? 0o755 });
  }
  for (const [dir, mode] of Object.entries(modes)) chmodSync(path.join(base, 'root', dir), mode); // past the umask
  writeStubUnits(path.join(base, 'root', 'usr/lib/systemd/system'));
}

export interface StartSystemOptions {
  /** Part of its cgroup and folder names and its `container=`. @default 'sys' */
  name?: string;
}

export async function startSystemManager(opts: StartSystemOptions = {}): Promise<SystemManager> {
  const { ok, why } = canRunSystemManager();
  if (!ok) throw new Error(`cannot start a systemd system manager: ${why}`);
  sweepStaleSystemManagers();
  const label = (opts.name ?? 'sys').replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 24);
  const base = mkdtempSync(path.join(SYSTEM_MANAGER_HOME, `${SYSTEM_MANAGER_PREFIX}${process.pid}-${label}-`));
  const cgroup = path.join(cgroup2()!, path.basename(base));
  const footprint = { cgroups: [cgroup], root: base };
  track(footprint); // from here on, a dying test process removes whatever exists of it
  chmodSync(base, 0o755); // mkdtemp's 0700 would keep the service account from its client wrappers
  makeRoot(base);
  mkdirSync(cgroup);
  const log = await openKmsgLog(base);

  const started = Date.now();
  // setpriv --pdeathsig KILL + unshare --kill-child: if the test process dies without cleanup (even SIGKILL),
  // unshare dies and takes the namespace's PID 1 along, and with it every process of the namespace.
  const command = [
    ...['-i', `PATH=${PATH_INSIDE}`, `container=rs-${label}`, 'setsid', 'setpriv', '--pdeathsig', 'KILL', 'unshare'],
    ...['--pid', '--fork', '--kill-child', '--mount', '--mount-proc', '--uts', '--propagation', 'private'],
    ...['sh', '-c', BOOT_SCRIPT, 'sh', base, cgroup, TEST_TARGET],
  ];
  // Output to a file, not a pipe: a unit inheriting a pipe would keep execa waiting after the manager exits.
  const outer = execa('env', command, {
    env: {},
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: { file: path.join(base, 'manager.stderr') },
  });
  let exited = false;
  const exit = outer.then((r) => {
    exited = true;
    return r;
  });
  const pid = await namespaceInit(outer.pid!, () => exited, base);
  const sm = createSystemHandle({ base, cgroup, pid, log, exit, footprint });
  try {
    await waitForBoot(sm, () => exited);
  } catch (error) {
    await sm.stop();
    throw error;
  }
  sm.bootMs = Date.now() - started;
  return sm;
}

/** The host PID of the namespace's PID 1: unshare's only child (env, setsid and setpriv exec, they do not fork). */
async function namespaceInit(unsharePid: number, hasExited: () => boolean, base: string): Promise<number> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  while (Date.now() < deadline && !hasExited()) {
    const children = await readFile(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').catch(() => '');
    const pid = Number(children.trim().split(/\s+/)[0]);
    if (pid > 0) return pid;
    await delay(5);
  }
  const stderr = await readFile(path.join(base, 'manager.stderr'), 'utf8').catch(() => '');
  throw new Error(`the system manager's namespace did not start: ${stderr}`);
}

async function waitForBoot(sm: SystemManager, hasExited: () => boolean): Promise<void> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    if (hasExited()) throw new Error(`systemd --system exited during boot:\n${await sm.readLog()}`);
    // Before systemd has exec'd and made its socket, this fails: keep polling.
    const state = await sm.systemctl(['show', '--property=SystemState', '--value'], { timeoutMs: 5_000 });
    last = state.stdout.trim() || state.stderr.trim();
    if (last === 'running') return;
    if (last === 'degraded') {
      const failed = await sm.systemctl(['list-units', '--failed', '--plain', '--no-legend']);
      throw new Error(`systemd --system booted degraded:\n${failed.stdout}\nlog:\n${await sm.readLog()}`);
    }
    await delay(10);
  }
  throw new Error(`systemd --system not running after ${BOOT_TIMEOUT_MS} ms (last: ${last})\n${await sm.readLog()}`);
}

/**
 * Removes what test processes that are gone left: the cgroups (their processes killed first), the folders under
 * /var/lib and the sudoers files, all named `rs-sysmgr-<their PID>-…`.
 */
export function sweepStaleSystemManagers(): void {
  const ownerGone = (name: string) => {
    const owner = name.startsWith(SYSTEM_MANAGER_PREFIX)
      ? /^(\d+)-/.exec(name.slice(SYSTEM_MANAGER_PREFIX.length))?.[1]
      : undefined;
    return owner !== undefined && !isAlive(Number(owner));
  };
  const stale = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter(ownerGone) : []);
  const mount = cgroup2();
  if (mount) {
    for (const top of stale(mount).map((name) => path.join(mount, name))) {
      for (const pid of procsUnder(top)) quietly(() => process.kill(pid, 'SIGKILL'));
      void removeTree([top]).catch(() => undefined); // EBUSY for a moment after the kill: the next sweep finishes it
    }
  }
  for (const dir of [SYSTEM_MANAGER_HOME, SUDOERS_DIR]) {
    for (const name of stale(dir)) quietly(() => rmSync(path.join(dir, name), { recursive: true, force: true }));
  }
}

function quietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // best effort: gone already, or the next sweep's
  }
}
