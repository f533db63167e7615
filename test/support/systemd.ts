// A private, real `systemd --user` manager for integration tests, on machines whose PID 1 is not systemd.
//
// Recipe (docs/testing.md, "A private systemd in tests"): as root, in a new private mount namespace, move
// the shell into its own cgroup, put a fresh tmpfs on /run/systemd with a `system/` dir in it, bind a FIFO over
// /dev/kmsg, then exec `systemd --user --log-target=kmsg`, as root or as the account that owns the manager (its
// cgroup delegated to it, its HOME and XDG dirs its own). Every manager gets its own temp HOME/XDG_* dirs, so several
// can run side by side (vitest runs test files in parallel forks). `systemctl --user` reaches the manager through
// `$XDG_RUNTIME_DIR/systemd/private`, a socket in the temp dir on the host filesystem, so it works from outside the
// namespace without nsenter as long as it gets `env`.
import { chownSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa, execaSync } from 'execa';
import { type Account, accountOrDefault, accountTempDir, asAccount } from './accounts.ts';
import { type Footprint, PREFIX, sweepStale, track } from './systemd-cleanup.ts';
import { createHandle, type UserManager } from './systemd-handle.ts';
import { openKmsgLog, prepareHome } from './systemd-home.ts';

export { isAlive } from './systemd-cleanup.ts';
export type { CommandResult, UserManager, WaitOptions } from './systemd-handle.ts';

const SYSTEMD = '/usr/lib/systemd/systemd';
const CGROUP_FS = '/sys/fs/cgroup';
const BOOT_TIMEOUT_MS = 10_000;

export interface StartOptions {
  /** Part of the cgroup and temp dir names, to tell managers apart in `ps`/`systemd-cgls`. @default 'mgr' */
  name?: string;
  /**
   * The account the manager runs as (uid, gid, groups), with its cgroup delegated to it and its HOME, XDG dirs and
   * unit files owned by it: what `user@<uid>.service` gives a login. @default the test process's own (root)
   */
  account?: Account | null | undefined;
  /**
   * The account's HOME, XDG dirs and /run/user/UID, as a login gives them (loginDirs in systemd-home.ts), not private
   * temp dirs: for tests of what finds the manager from the account alone. Another account only, a dedicated one (its
   * home is the test's), one manager per account at a time. @default false
   */
  login?: boolean;
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
// Fixed text; paths arrive as positional parameters, never spliced in: $1 = the kmsg FIFO, then the cgroup dirs, a
// `--`, then the manager's command line.
const BOOT_SCRIPT = `set -e
kmsg="$1"; shift
while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs"; shift; done; shift
mkdir -p /run/systemd
mount -t tmpfs tmpfs /run/systemd
mkdir /run/systemd/system
mount --bind "$kmsg" /dev/kmsg
exec "$@"`;

/**
 * The manager's command line. As another account: setpriv again with --pdeathsig, because changing the uid clears
 * the parent-death signal the outer setpriv set (prctl(2)).
 */
function managerCommand(account: Account | undefined): string[] {
  const flags = ['--user', '--log-target=kmsg'];
  if (!account) return [SYSTEMD, ...flags];
  const [setpriv, args] = asAccount(account, SYSTEMD, flags);
  return [setpriv, '--pdeathsig', 'TERM', ...args];
}

/**
 * Hands the manager's cgroup to its account, as systemd delegates `user@<uid>.service`: the folder (to make its
 * slices) and the files that move processes and enable controllers. cgroup2 has cgroup.procs, cgroup.threads and
 * cgroup.subtree_control; the v1 name=systemd hierarchy has cgroup.procs and tasks: each folder gets those it has.
 */
function delegate(cgroup: string, account: Account): void {
  for (const entry of ['', 'cgroup.procs', 'cgroup.threads', 'cgroup.subtree_control', 'tasks']) {
    const file = path.join(cgroup, entry);
    if (existsSync(file)) chownSync(file, account.uid, account.gid);
  }
}

export async function startUserManager(opts: StartOptions = {}): Promise<UserManager> {
  const { ok, why } = canRunUserManager();
  if (!ok) throw new Error(`cannot start a systemd user manager: ${why}`);
  const mounts = cgroupMounts() ?? [];
  sweepStale(mounts);

  const account = accountOrDefault(opts.account);
  const label = (opts.name ?? 'mgr').replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 16); // keeps $XDG_RUNTIME_DIR/systemd/private under the 108-byte socket path limit
  const prefix = `${PREFIX}${process.pid}-${label}-`;
  const root = account ? accountTempDir(account, prefix) : mkdtempSync(path.join(tmpdir(), prefix));
  // openclaw tells a user manager from the system one by `/user@<uid>.service/` in its cgroup path.
  const cgroupName = `${path.basename(root)}/user@${account?.uid ?? process.getuid?.() ?? 0}.service`;
  const cgroups = mounts.map((m) => path.join(m, cgroupName));
  const login = opts.login === true && account !== undefined;
  if (opts.login && !account) throw new Error('startUserManager: login needs another account than root');
  const footprint: Footprint = {
    cgroups: cgroups.map((cg) => path.dirname(cg)),
    root,
    ...(login ? { runtimeDir: `/run/user/${account.uid}` } : {}),
  };
  track(footprint); // from here on, a dying test process removes whatever exists of it
  const env = await prepareHome(root, account, { login });
  const log = await openKmsgLog(root, account);
  for (const cg of cgroups) {
    await mkdir(cg, { recursive: true });
    if (account) delegate(cg, account);
  }

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
      '--',
      ...managerCommand(account),
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

  const um = createHandle({ env, account, root, log, cgroups, manager, exit, footprint });
  try {
    await waitForBoot(um, () => exited);
  } catch (error) {
    await um.stop();
    throw error;
  }
  um.bootMs = Date.now() - started;
  return um;
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
