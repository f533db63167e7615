// Talking to a running private `systemd --user` manager (see systemd.ts), as the account that owns it, and stopping
// it so that nothing of it is left: no process, no cgroup, no folder.
import { chownSync, rmSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { type Account, asAccount, unreachableReason } from './accounts.ts';
import { type Footprint, killTree, procsUnder, removeTree, untrack } from './systemd-cleanup.ts';
import type { KmsgLog } from './systemd-home.ts';

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
  /**
   * The account the manager runs as, and every command of this handle; `undefined`: the test process's own (root).
   * Run the CLI against this manager with `cli(args, { as: um.account, env: um.env })`.
   */
  account: Account | undefined;
  /** Temp dir holding HOME, XDG_* dirs and the log (the account's, 0700); removed by stop(). Put test files here. */
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
  /**
   * `systemctl --user ARGS` against this manager; never rejects on a non-zero exit, throws on a timeout. It runs outside
   * the manager's namespace, where /run/systemd/system is missing, so systemctl takes the machine for one not booted
   * with systemd and does unit-file verbs (`enable`, `disable`, …) client-side: the links, without the reload a user's
   * systemctl asks the manager for. Follow them with `daemon-reload` where the manager must see them (an enabled unit
   * stays loaded while stopped only once default.target wants it).
   */
  systemctl(args: string[], opts?: { timeoutMs?: number }): Promise<CommandResult>;
  /** Any command with this manager's environment and account (e.g. `systemd-run --user`); same contract as systemctl(). */
  run(command: string, args: string[], opts?: { timeoutMs?: number }): Promise<CommandResult>;
  /** Writes `unitDir/name` (owned by the manager's account) atomically, then `daemon-reload`. */
  writeUnit(name: string, content: string): Promise<void>;
  /** Polls `cond` until true; the timeout error carries the tail of the manager's log. */
  waitFor(cond: () => Promise<boolean> | boolean, opts?: WaitOptions): Promise<void>;
  /** PIDs in the manager's cgroups (manager included). */
  pids(): Promise<number[]>;
  readLog(): Promise<string>;
  /** `systemctl --user exit`, kill leftovers by PID, remove the cgroups and the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface HandleParts {
  env: NodeJS.ProcessEnv;
  account: Account | undefined;
  root: string;
  log: KmsgLog;
  cgroups: string[];
  manager: ResultPromise;
  exit: Promise<unknown>;
  footprint: Footprint;
}

export function createHandle(p: HandleParts): UserManager {
  let stopping: Promise<void> | undefined;
  const run = async (command: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<CommandResult> => {
    const timeout = opts.timeoutMs ?? COMMAND_TIMEOUT_MS;
    const [file, argv] = p.account ? asAccount(p.account, command, args) : [command, args];
    const r = await execa(file, argv, { env: p.env, extendEnv: false, stdin: 'ignore', reject: false, timeout });
    if (r.timedOut) throw new Error(`${command} ${args.join(' ')} timed out after ${timeout} ms`);
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const um: UserManager = {
    env: p.env,
    account: p.account,
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
      if (p.account) checkCommandsReachable(p.account, name, content);
      const file = path.join(um.unitDir, name);
      await writeFile(`${file}.tmp`, content);
      if (p.account) chownSync(`${file}.tmp`, p.account.uid, p.account.gid);
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
  rmSync(p.root, { recursive: true, force: true }); // as root: the account's folders and files go too
  if (p.footprint.runtimeDir) rmSync(p.footprint.runtimeDir, { recursive: true, force: true });
  untrack(p.footprint);
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

/**
 * Every absolute path on a unit's command lines (`ExecStart=` and the like) must be one the manager's account can
 * reach: otherwise the unit fails at each start and only the manager's log says why. Said here, with the path, the
 * account and the folder's mode, before the test waits on a service that cannot start.
 */
function checkCommandsReachable(account: Account, name: string, content: string): void {
  for (const line of content.split('\n')) {
    const command = /^Exec[A-Za-z]*=[-+@:!]*(.*)$/.exec(line.trim())?.[1];
    if (!command) continue;
    for (const word of command.split(/\s+/)) {
      const file = word.replace(/^['"]|['"]$/g, '');
      if (!file.startsWith('/')) continue;
      const why = unreachableReason(account, file);
      if (why) throw new Error(`unit ${name}: ${why}`);
    }
  }
}
