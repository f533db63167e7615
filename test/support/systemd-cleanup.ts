// Tearing down private systemd managers (see systemd.ts): kill by PID through the cgroup trees, remove the cgroups,
// and make sure a failed or killed test process leaves nothing running.
import { existsSync, readdirSync, readFileSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** What a manager leaves on the machine: its top cgroup in each hierarchy and its temp dir. */
export interface Footprint {
  cgroups: string[];
  root: string;
  /** A login's /run/user/UID (startUserManager's `login`), removed with the rest. */
  runtimeDir?: string;
}

/** Every cgroup and temp dir of a manager is named `<prefix><owning test process's PID>-…`. */
export const PREFIX = 'rs-systemd-';
const KILL_TIMEOUT_MS = 5_000;
const SIGNALS = [
  ['SIGTERM', 15],
  ['SIGINT', 2],
  ['SIGHUP', 1],
] as const;

/** Managers of this process not yet stopped. */
const live = new Set<Footprint>();
const onSignal = new Map<NodeJS.Signals, () => void>();

// Last resort when the test process goes away with managers still up (a test forgot stop(), or vitest ended the
// worker): vitest stops its fork workers with SIGTERM, and a signal death emits no 'exit' event, so listen to both.
// Our listener also stops execa's signal-exit from re-raising the signal, so we exit ourselves after cleaning up.
// Listeners are only installed while a manager is live. If the process is SIGKILLed, the manager's pdeathsig stops
// it and sweepStale() removes the dirs on the next start.
export function track(footprint: Footprint): void {
  if (live.size === 0) {
    process.on('exit', killAllSync);
    for (const [signal, number] of SIGNALS) {
      const listener = () => {
        killAllSync();
        process.exit(128 + number);
      };
      onSignal.set(signal, listener);
      process.once(signal, listener);
    }
  }
  live.add(footprint);
}

export function untrack(footprint: Footprint): void {
  if (!live.delete(footprint) || live.size > 0) return;
  process.off('exit', killAllSync);
  for (const [signal, listener] of onSignal) process.off(signal, listener);
  onSignal.clear();
}

/** SIGKILLs every process in the cgroup trees until they are empty. */
export async function killTree(tops: string[]): Promise<void> {
  const deadline = Date.now() + KILL_TIMEOUT_MS;
  for (;;) {
    const pids = new Set(tops.flatMap(procsUnder));
    if (pids.size === 0) return;
    if (Date.now() > deadline)
      throw new Error(`processes survived SIGKILL in ${tops.join(', ')}: ${[...pids].join(' ')}`);
    for (const pid of pids) killQuietly(pid);
    await delay(20);
  }
}

/** rmdir the cgroup trees, deepest first; retries EBUSY, which a cgroup reports for a moment after its last exit. */
export async function removeTree(tops: string[]): Promise<void> {
  const deadline = Date.now() + KILL_TIMEOUT_MS;
  for (const dir of tops.flatMap(cgroupDirs)) {
    for (;;) {
      try {
        rmdirSync(dir);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || Date.now() > deadline) throw error;
        await delay(20);
      }
    }
  }
}

/** PIDs in a cgroup and all its descendants. */
export function procsUnder(top: string): number[] {
  return cgroupDirs(top).flatMap((dir) => {
    try {
      return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return []; // removed while we walked
    }
  });
}

/** A cgroup dir and all its descendants (the subdirectories; the files are controls), deepest first. */
function cgroupDirs(top: string): string[] {
  if (!existsSync(top)) return [];
  const subs = readdirSync(top, { withFileTypes: true, recursive: true })
    .filter((d) => d.isDirectory())
    .map((d) => path.join(d.parentPath, d.name));
  return [top, ...subs].sort((a, b) => b.length - a.length);
}

/** Synchronous, so it can run in an 'exit' listener: SIGKILL by PID until the cgroups are empty, then remove all. */
function killAllSync(): void {
  const tick = new Int32Array(new SharedArrayBuffer(4));
  for (const { cgroups, root, runtimeDir } of live) {
    const deadline = Date.now() + KILL_TIMEOUT_MS;
    for (
      let pids = cgroups.flatMap(procsUnder);
      pids.length > 0 && Date.now() < deadline;
      pids = cgroups.flatMap(procsUnder)
    ) {
      pids.forEach(killQuietly);
      Atomics.wait(tick, 0, 0, 10); // a synchronous 10 ms sleep
    }
    for (const dir of cgroups.flatMap(cgroupDirs)) tryQuietly(() => rmdirSync(dir));
    tryQuietly(() => rmSync(root, { recursive: true, force: true }));
    if (runtimeDir) tryQuietly(() => rmSync(runtimeDir, { recursive: true, force: true }));
  }
  live.clear();
}

/** Removes cgroups and temp dirs whose owning test process is gone (a SIGKILLed worker, a crashed run). */
export function sweepStale(mounts: string[]): void {
  const ownerGone = (name: string) => {
    const owner = name.startsWith(PREFIX) ? /^(\d+)-/.exec(name.slice(PREFIX.length))?.[1] : undefined;
    return owner !== undefined && !isAlive(Number(owner));
  };
  for (const mount of mounts) {
    for (const top of readdirQuietly(mount)
      .filter(ownerGone)
      .map((name) => path.join(mount, name))) {
      procsUnder(top).forEach(killQuietly);
      for (const dir of cgroupDirs(top)) tryQuietly(() => rmdirSync(dir));
    }
  }
  for (const name of readdirQuietly(tmpdir()).filter(ownerGone)) {
    tryQuietly(() => rmSync(path.join(tmpdir(), name), { recursive: true, force: true }));
  }
}

/** True while `pid` exists and is not a zombie (an unreaped zombie has exited as far as tests care). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // Field 3 of /proc/PID/stat is the state; field 2 (comm) may contain spaces, so split after its ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export function readdirQuietly(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function tryQuietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // best effort
  }
}
