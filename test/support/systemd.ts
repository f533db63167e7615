// A private, real `systemd --user` manager for integration tests, on machines whose PID 1 is not systemd.
//
// Recipe (see /work/shared/DESIGN.md, "A real systemd in tests"): as root, in a new private mount namespace, move
// the shell into its own cgroup, put a fresh tmpfs on /run/systemd with a `system/` dir in it, bind a FIFO over
// /dev/kmsg, then exec `systemd --user --log-target=kmsg`. Every manager gets its own temp HOME/XDG_* dirs, so several
// can run side by side (vitest runs test files in parallel forks). `systemctl --user` reaches the manager through
// `$XDG_RUNTIME_DIR/systemd/private`, a socket in the temp dir on the host filesystem, so it works from outside the
// namespace without nsenter as long as it gets `env`.
import { constants, createWriteStream, existsSync, openSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa, execaSync, type ResultPromise } from 'execa';
import {
  type Footprint,
  PREFIX,
  killTree,
  procsUnder,
  readdirQuietly,
  removeTree,
  sweepStale,
  track,
  untrack,
} from './systemd-cleanup.ts';

export { isAlive } from './systemd-cleanup.ts';

const SYSTEMD = '/usr/lib/systemd/systemd';
const CGROUP_FS = '/sys/fs/cgroup';
const BOOT_TIMEOUT_MS = 10_000;
/** How long stop() lets exit.target stop units before SIGKILL: well-behaved units need milliseconds. */
const STOP_GRACE_MS = 2_000;
const COMMAND_TIMEOUT_MS = 15_000;

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface WaitOptions {
  /** @default 10_000 */
  timeoutMs?: number;
  /** @default 25 */
  intervalMs?: number;
  /** Named in the timeout error. @default 'condition' */
  what?: string;
}

export interface UserManager {
  /** The isolated environment of the manager: pass it to anything that talks to it (`systemctl --user`, `systemd-run --user`). */
  env: NodeJS.ProcessEnv;
  /** Temp dir holding HOME, XDG_* dirs and the log; removed by stop(). Put test files here. */
  root: string;
  /** `$XDG_CONFIG_HOME/systemd/user`: where writeUnit() puts unit files. */
  unitDir: string;
  /** What the manager and its children log (their /dev/kmsg); print it when a test fails. */
  logFile: string;
  /** PID of the manager process. */
  pid: number;
  /** The manager's cgroup in each hierarchy, e.g. `/sys/fs/cgroup/unified/rs-systemd-…/user@0.service`. */
  cgroups: string[];
  /** Milliseconds from spawn until `SystemState` was `running`. */
  bootMs: number;
  /** `systemctl --user ARGS` against this manager; never rejects on a non-zero exit, throws on a timeout. */
  systemctl(args: string[], opts?: { timeoutMs?: number }): Promise<CommandResult>;
  /** Any command with this manager's environment (e.g. `systemd-run --user`); same contract as systemctl(). */
  run(command: string, args: string[], opts?: { timeoutMs?: number }): Promise<CommandResult>;
  /** Writes `unitDir/name` atomically, then `daemon-reload`. */
  writeUnit(name: string, content: string): Promise<void>;
  /** Polls `cond` until true; the timeout error carries the tail of the manager's log. */
  waitFor(cond: () => Promise<boolean> | boolean, opts?: WaitOptions): Promise<void>;
  /** PIDs in the manager's cgroups (manager included). */
  pids(): Promise<number[]>;
  readLog(): Promise<string>;
  /** `systemctl --user exit`, kill leftovers by PID, remove the cgroups and the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Part of the cgroup and temp dir names, to tell managers apart in `ps`/`systemd-cgls`. @default 'mgr' */
  name?: string;
}

let support: { ok: boolean; why?: string } | undefined;

/** Whether this machine can boot a private user manager; `why` says what is missing. Probes once per process. */
export function canRunUserManager(): { ok: boolean; why?: string } {
  support ??= probeSupport();
  return support;
}

function probeSupport(): { ok: boolean; why?: string } {
  const no = (reason: string) => ({
    ok: false,
    why: `${reason}; a private systemd --user manager needs root on Linux (mount namespace + cgroupfs writes). CI runs these tests as root.`,
  });
  if (process.platform !== 'linux') return no(`platform is ${process.platform}`);
  if (process.getuid?.() !== 0) return no(`not root (uid ${process.getuid?.()})`);
  if (!existsSync(SYSTEMD)) return no(`${SYSTEMD} is missing`);
  if (cgroupMounts() === undefined) return no(`no usable cgroup hierarchy under ${CGROUP_FS}`);
  const missing = ['systemctl', 'systemd-run', 'unshare', 'setpriv', 'mkfifo'].filter((tool) => !onPath(tool));
  if (missing.length > 0) return no(`not on PATH: ${missing.join(', ')}`);
  // Root inside an unprivileged container has no CAP_SYS_ADMIN: find out now rather than in every test.
  const probe = execaSync('unshare', ['-m', '--propagation', 'private', 'true'], { reject: false, timeout: 5_000 });
  if (probe.exitCode !== 0) return no(`unshare -m failed: ${String(probe.stderr).trim()}`);
  return { ok: true };
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir !== '' && existsSync(path.join(dir, tool)));
}

/** The hierarchies a manager must be moved into: name=systemd v1 (+ cgroup2 when hybrid), or cgroup2 alone. */
function cgroupMounts(): string[] | undefined {
  if (existsSync(`${CGROUP_FS}/cgroup.controllers`)) return [CGROUP_FS];
  if (!existsSync(`${CGROUP_FS}/systemd/cgroup.procs`)) return undefined;
  const unified = `${CGROUP_FS}/unified`;
  return existsSync(`${unified}/cgroup.procs`) ? [`${CGROUP_FS}/systemd`, unified] : [`${CGROUP_FS}/systemd`];
}

// Runs inside the new mount namespace, then becomes the manager (so the execa child's PID is the manager's PID).
// Fixed text; paths arrive as positional parameters, never spliced in. $1 = the kmsg FIFO, the rest = cgroup dirs.
const BOOT_SCRIPT = `set -e
kmsg="$1"; shift
for cg in "$@"; do echo $$ > "$cg/cgroup.procs"; done
mkdir -p /run/systemd
mount -t tmpfs tmpfs /run/systemd
mkdir /run/systemd/system
mount --bind "$kmsg" /dev/kmsg
exec ${SYSTEMD} --user --log-target=kmsg`;

export async function startUserManager(opts: StartOptions = {}): Promise<UserManager> {
  const { ok, why } = canRunUserManager();
  if (!ok) throw new Error(`cannot start a systemd user manager: ${why}`);
  const mounts = cgroupMounts() ?? [];
  sweepStale(mounts);

  const label = (opts.name ?? 'mgr').replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 16); // keeps $XDG_RUNTIME_DIR/systemd/private under the 108-byte socket path limit
  const root = await mkdtemp(path.join(tmpdir(), `${PREFIX}${process.pid}-${label}-`));
  // openclaw tells a user manager from the system one by `/user@<uid>.service/` in its cgroup path.
  const cgroupName = `${path.basename(root)}/user@${process.getuid?.() ?? 0}.service`;
  const cgroups = mounts.map((m) => path.join(m, cgroupName));
  const footprint: Footprint = { cgroups: cgroups.map((cg) => path.dirname(cg)), root };
  track(footprint); // from here on, a dying test process removes whatever exists of it
  const env = await prepareHome(root);
  const log = await openKmsgLog(root);
  for (const cg of cgroups) await mkdir(cg, { recursive: true });

  // setpriv --pdeathsig TERM: if this test process dies without cleanup (even SIGKILL), the manager gets SIGTERM,
  // which for a user manager means "start exit.target": it stops its units and exits.
  const started = Date.now();
  const manager = execa(
    'setpriv',
    [
      '--pdeathsig',
      'TERM',
      'unshare',
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      BOOT_SCRIPT,
      'sh',
      log.fifo,
      ...cgroups,
    ],
    // stdout/stderr to a file, not a pipe: a unit inheriting a pipe would keep execa waiting after the manager exits.
    {
      env,
      extendEnv: false,
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: { file: path.join(root, 'manager.stderr') },
      reject: false,
    },
  );
  let exited = false;
  const exit = manager.then((r) => {
    exited = true;
    return r;
  });

  const um = createHandle({ env, root, log, cgroups, manager, exit, footprint });
  try {
    await waitForBoot(um, () => exited);
  } catch (error) {
    await um.stop();
    throw error;
  }
  um.bootMs = Date.now() - started;
  return um;
}

interface KmsgLog {
  /** Bound over /dev/kmsg in the manager's namespace. */
  fifo: string;
  /** Where everything written to the FIFO is appended. */
  file: string;
  close(): Promise<void>;
}

// Why a FIFO and not a plain file bound over /dev/kmsg: every process that opens /dev/kmsg gets its own file offset
// at 0, so a unit's forked child logging "Failed to connect stdout to the journal socket" or "Failed at step EXEC"
// overwrote the start of the manager's log. Through a FIFO each record is one atomic write, appended in order.
async function openKmsgLog(root: string): Promise<KmsgLog> {
  const fifo = path.join(root, 'kmsg.fifo');
  const file = path.join(root, 'manager.log');
  await execa('mkfifo', ['-m', '0600', fifo], { timeout: 5_000 });
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

/** Isolated HOME and XDG dirs, distro units masked, and the environment that points at them. */
async function prepareHome(root: string): Promise<NodeJS.ProcessEnv> {
  const dir = (name: string) => path.join(root, name);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    HOME: dir('home'),
    XDG_RUNTIME_DIR: dir('run'),
    XDG_CONFIG_HOME: dir('config'),
    XDG_DATA_HOME: dir('data'),
    XDG_STATE_HOME: dir('state'),
    XDG_CACHE_HOME: dir('cache'),
    SYSTEMD_PAGER: '',
    SYSTEMD_COLORS: '0',
  };
  for (const key of ['HOME', 'XDG_RUNTIME_DIR', 'XDG_DATA_HOME', 'XDG_STATE_HOME', 'XDG_CACHE_HOME'] as const) {
    await mkdir(env[key]!, { recursive: true });
  }
  await chmod(env.XDG_RUNTIME_DIR!, 0o700); // systemd refuses a runtime dir others can read
  const unitDir = path.join(env.XDG_CONFIG_HOME!, 'systemd', 'user');
  await mkdir(unitDir, { recursive: true });
  for (const unit of unitsToMask()) await symlink('/dev/null', path.join(unitDir, unit));
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

async function waitForBoot(um: UserManager, hasExited: () => boolean): Promise<void> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    if (hasExited()) {
      throw new Error(`systemd --user exited during boot:\n${await um.readLog()}`);
    }
    // Before the private socket exists this fails ("Failed to connect to bus"): keep polling.
    const state = await um.systemctl(['show', '--property=SystemState', '--value'], { timeoutMs: 5_000 });
    last = state.stdout.trim() || state.stderr.trim();
    if (last === 'running') return;
    if (last === 'degraded') {
      const failed = await um.systemctl(['list-units', '--failed', '--plain', '--no-legend']);
      throw new Error(
        `systemd --user booted degraded; mask these units in systemd.ts:\n${failed.stdout}\nlog:\n${await um.readLog()}`,
      );
    }
    await delay(10);
  }
  throw new Error(
    `systemd --user not running after ${BOOT_TIMEOUT_MS} ms (last: ${last})\nlog:\n${await um.readLog()}`,
  );
}

interface HandleParts {
  env: NodeJS.ProcessEnv;
  root: string;
  log: KmsgLog;
  cgroups: string[];
  manager: ResultPromise;
  exit: Promise<unknown>;
  footprint: Footprint;
}

function createHandle(p: HandleParts): UserManager {
  let stopping: Promise<void> | undefined;
  const run = async (command: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<CommandResult> => {
    const timeout = opts.timeoutMs ?? COMMAND_TIMEOUT_MS;
    const r = await execa(command, args, { env: p.env, extendEnv: false, stdin: 'ignore', reject: false, timeout });
    if (r.timedOut) throw new Error(`${command} ${args.join(' ')} timed out after ${timeout} ms`);
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const um: UserManager = {
    env: p.env,
    root: p.root,
    unitDir: path.join(p.env.XDG_CONFIG_HOME!, 'systemd', 'user'),
    logFile: p.log.file,
    pid: p.manager.pid ?? -1,
    cgroups: p.cgroups,
    bootMs: -1,
    run,
    systemctl: (args, opts) => run('systemctl', ['--user', ...args], opts),
    async writeUnit(name, content) {
      if (name.includes('/')) throw new Error(`unit name must not contain '/': ${name}`);
      const file = path.join(um.unitDir, name);
      await writeFile(`${file}.tmp`, content);
      await rename(`${file}.tmp`, file);
      const reload = await um.systemctl(['daemon-reload']);
      if (reload.exitCode !== 0) throw new Error(`daemon-reload failed (${reload.exitCode}): ${reload.stderr}`);
    },
    async waitFor(cond, { timeoutMs = 10_000, intervalMs = 25, what = 'condition' } = {}) {
      const deadline = Date.now() + timeoutMs;
      while (!(await cond())) {
        if (Date.now() > deadline) {
          throw new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}\nmanager log (tail):\n${tail(await um.readLog())}`,
          );
        }
        await delay(intervalMs);
      }
    },
    pids: async () => p.cgroups.flatMap(procsUnder).filter((pid, i, all) => all.indexOf(pid) === i),
    async readLog() {
      // The boot script's own errors (mount, cgroup writes) go to stderr, before there is a kmsg.
      const stderr = await readFile(path.join(p.root, 'manager.stderr'), 'utf8').catch(() => '');
      const log = await readFile(p.log.file, 'utf8').catch(() => '');
      return stderr ? `${stderr}\n${log}` : log;
    },
    stop() {
      stopping ??= stopManager(um, p);
      return stopping;
    },
  };
  return um;
}

async function stopManager(um: UserManager, p: HandleParts): Promise<void> {
  // Graceful first: exit.target stops the units (so their ExecStop and logs run), then the manager exits.
  await um.systemctl(['exit'], { timeoutMs: 5_000 }).catch(() => undefined);
  await Promise.race([p.exit, delay(STOP_GRACE_MS)]);
  // Whatever is left (a unit ignoring SIGTERM, a manager that did not exit) dies by PID.
  await killTree(p.footprint.cgroups);
  await Promise.race([p.exit, delay(STOP_GRACE_MS)]); // it was in those cgroups, so it is dead: let execa reap it
  await removeTree(p.footprint.cgroups);
  await p.log.close();
  rmSync(p.root, { recursive: true, force: true });
  untrack(p.footprint);
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}
