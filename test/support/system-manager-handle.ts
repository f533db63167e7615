// Talking to a running private systemd system manager (see system-manager.ts) from the host, as root, through its
// namespaces, and stopping it so that nothing of it is left: no process, no cgroup, no folder.
import { rmSync } from 'node:fs';
import { mkdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { type Account, asAccount } from './accounts.ts';
import type { CommandResult, WaitOptions } from './systemd-handle.ts';
import { type Footprint, killTree, procsUnder, removeTree, untrack } from './systemd-cleanup.ts';
import type { KmsgLog } from './systemd-home.ts';

/** How long stop() waits for `systemctl exit` (measured ~2 s on systemd 252) before killing what is left. */
const EXIT_GRACE_MS = 4_000;
const COMMAND_TIMEOUT_MS = 15_000;
/** What a command inside gets: no variable of the test process leaks in. */
const ENV_INSIDE = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
  SYSTEMD_PAGER: '',
  SYSTEMD_COLORS: '0',
};

export interface RunOptions {
  /** @default 15_000 */
  timeoutMs?: number;
  /** Runs it as this account (its uid, gid and groups), still inside the namespaces. @default root */
  as?: Account;
  /** Added to a clean environment (PATH, LANG, no pager). */
  env?: Record<string, string>;
  /** Where it starts, a path inside the namespaces (a login's home, say). @default the test process's own */
  cwd?: string;
}

export interface SystemManager {
  /** Host PID of the namespace's PID 1, systemd itself: `nsenter -t <pid>` reaches it. */
  pid: number;
  /** Its folder under /var/lib (0755): the private mount points under `root/`, the log. Removed by stop(). */
  base: string;
  /** Its cgroup on the host, e.g. `/sys/fs/cgroup/unified/rs-sysmgr-…` (init.scope and system.slice below). */
  cgroup: string;
  /** The host's path of its /etc/systemd/system. */
  unitDir: string;
  /** What the manager and its units' failures log (their /dev/kmsg). */
  logFile: string;
  /** Milliseconds from spawn until `SystemState` was `running`. */
  bootMs: number;
  /** The command line prefix that enters its mount, PID and UTS namespaces (root only). */
  enter: string[];
  /** `systemctl ARGS` against this manager; never rejects on a non-zero exit, throws on a timeout. */
  systemctl(args: string[], opts?: { timeoutMs?: number }): Promise<CommandResult>;
  /** Any command inside its namespaces (sees its /run, /tmp, unit dirs); same contract as systemctl(). */
  run(command: string, args: string[], opts?: RunOptions): Promise<CommandResult>;
  /** Writes /etc/systemd/system/<name> atomically, then `daemon-reload`. */
  writeUnit(name: string, content: string): Promise<void>;
  /** Writes /etc/systemd/system/<unit>.d/<name> (a `.conf`), then `daemon-reload`. */
  writeDropIn(unit: string, name: string, content: string): Promise<void>;
  /** Makes `name` a link to `target` in its private /usr/local/sbin, where a bare `ExecStart=` name is found. */
  linkCommand(name: string, target: string): Promise<void>;
  /** The unit's MainPID as a host PID (0 when it has none). */
  mainPid(unit: string): Promise<number>;
  /** A property of `unit`, or of the manager when `unit` is ''. */
  show(unit: string, property: string): Promise<string>;
  /** Polls `cond` until true; the timeout error carries the tail of the manager's log. */
  waitFor(cond: () => Promise<boolean> | boolean, opts?: WaitOptions): Promise<void>;
  readLog(): Promise<string>;
  /** Runs `fn` during stop(), before its folders go (the client's sudoers file, say). */
  atStop(fn: () => void | Promise<void>): void;
  /** `systemctl exit`, kill leftovers by PID, remove its cgroup, folders and what atStop() named. Idempotent. */
  stop(): Promise<void>;
}

export interface SystemHandleParts {
  base: string;
  cgroup: string;
  pid: number;
  log: KmsgLog;
  exit: Promise<unknown>;
  footprint: Footprint;
}

function checkName(name: string): void {
  if (name.includes('/') || name.startsWith('.')) throw new Error(`not a plain file name: ${name}`);
}

export function createSystemHandle(p: SystemHandleParts): SystemManager {
  let stopping: Promise<void> | undefined;
  const cleanups: Array<() => void | Promise<void>> = [];
  const enter = ['nsenter', '-t', String(p.pid), '-m', '-p', '-u', '--'];
  const run = async (command: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> => {
    const timeout = opts.timeoutMs ?? COMMAND_TIMEOUT_MS;
    const [file, argv] = opts.as ? asAccount(opts.as, command, args) : [command, args];
    const wd = opts.cwd ? [`--wd=${opts.cwd}`] : [];
    const r = await execa(enter[0]!, [...enter.slice(1, -1), ...wd, '--', file, ...argv], {
      env: { ...ENV_INSIDE, ...opts.env },
      extendEnv: false,
      stdin: 'ignore',
      reject: false,
      timeout,
    });
    if (r.timedOut) throw new Error(`${command} ${args.join(' ')} timed out after ${timeout} ms`);
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const reload = async () => {
    const r = await sm.systemctl(['daemon-reload']);
    if (r.exitCode !== 0) throw new Error(`daemon-reload failed (${r.exitCode}): ${r.stderr}`);
  };
  const writeAtomically = async (file: string, content: string) => {
    await writeFile(`${file}.tmp`, content);
    await rename(`${file}.tmp`, file);
  };
  const sm: SystemManager = {
    pid: p.pid,
    base: p.base,
    cgroup: p.cgroup,
    unitDir: path.join(p.base, 'root', 'etc', 'systemd', 'system'),
    logFile: p.log.file,
    bootMs: -1,
    enter,
    run,
    systemctl: (args, opts) => run('systemctl', args, opts),
    async writeUnit(name, content) {
      checkName(name);
      await writeAtomically(path.join(sm.unitDir, name), content);
      await reload();
    },
    async writeDropIn(unit, name, content) {
      checkName(unit);
      checkName(name);
      const dir = path.join(sm.unitDir, `${unit}.d`);
      await mkdir(dir, { recursive: true });
      await writeAtomically(path.join(dir, name.endsWith('.conf') ? name : `${name}.conf`), content);
      await reload();
    },
    async linkCommand(name, target) {
      checkName(name);
      await symlink(target, path.join(p.base, 'root', 'usr', 'local', 'sbin', name));
    },
    async show(unit, property) {
      const r = await sm.systemctl(['show', ...(unit ? [unit] : []), `--property=${property}`, '--value']);
      if (r.exitCode !== 0) throw new Error(`systemctl show ${unit} ${property}: ${r.stderr}`);
      return r.stdout.trim();
    },
    async mainPid(unit) {
      const inside = Number(await sm.show(unit, 'MainPID'));
      return inside > 0 ? hostPid(p.cgroup, inside) : 0;
    },
    async waitFor(cond, { timeoutMs = 10_000, intervalMs = 25, what = 'condition' } = {}) {
      const deadline = Date.now() + timeoutMs;
      while (!(await cond())) {
        if (Date.now() > deadline) {
          const tail = (await sm.readLog()).split('\n').slice(-40).join('\n');
          throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\nmanager log (tail):\n${tail}`);
        }
        await delay(intervalMs);
      }
    },
    async readLog() {
      // The boot script's own errors (mount, cgroup writes) go to stderr, before there is a kmsg.
      const stderr = await readFile(path.join(p.base, 'manager.stderr'), 'utf8').catch(() => '');
      const log = await readFile(p.log.file, 'utf8').catch(() => '');
      return stderr ? `${stderr}\n${log}` : log;
    },
    atStop: (fn) => void cleanups.push(fn),
    stop() {
      stopping ??= stopManager(p, sm, cleanups);
      return stopping;
    },
  };
  return sm;
}

/** The host PID of the process that is `inside` in the manager's PID namespace (the last field of its NSpid). */
function hostPid(cgroup: string, inside: number): Promise<number> {
  const found = procsUnder(cgroup).map(async (pid) => {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const nspid = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/);
    return Number(nspid?.at(-1)) === inside ? pid : 0;
  });
  return Promise.all(found).then((pids) => pids.find((pid) => pid > 0) ?? 0);
}

async function stopManager(p: SystemHandleParts, sm: SystemManager, cleanups: Array<() => unknown>): Promise<void> {
  // Graceful first: exit.target stops the units (their ExecStop, PrivateTmp clean-up), then PID 1 exits.
  await sm.systemctl(['exit'], { timeoutMs: 5_000 }).catch(() => undefined);
  await Promise.race([p.exit, delay(EXIT_GRACE_MS)]);
  await killTree([p.cgroup]); // whatever is left (the manager itself if exit failed) dies by PID
  await Promise.race([p.exit, delay(EXIT_GRACE_MS)]); // PID 1 was in that cgroup: let execa reap unshare
  await removeTree([p.cgroup]);
  for (const fn of cleanups) await fn();
  await p.log.close();
  rmSync(p.base, { recursive: true, force: true });
  untrack(p.footprint);
}
