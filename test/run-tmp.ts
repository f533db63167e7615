// The run's temp folder (vitest.config.ts makes it and points TMPDIR at it): removed at the end of the run, with
// whatever a test or a killed worker left in it. Sealed releases carry the immutable attribute where root may set
// it, so it is cleared first. A test cleans what it makes, also when it fails (tempDir, onTestFinished, afterAll):
// anything of ours (rs-*) still here at the end is a leak, named on stderr and failing the run, so a new one is
// seen at once rather than as a /tmp that fills up where TMPDIR is not redirected.
//
// The same holds for processes: every process the run starts has its temp folder in its environment (TMPDIR), so one
// still running when the run exits (a pm2 daemon a command spawned, a manager or a gateway a test did not stop) is a
// leak, killed, named and failing the run: it would outlive the run's folders and take CPU from whatever runs next.
//
// The same holds for the host's list of roots (/var/lib/release-switcher/roots.json, what `init` as root adds to):
// vitest.config.ts names a list of the run's own; a root of this run's found in the host's is a leak (a test that
// built a command's environment without it), removed from the list and failing the run. Root's tool home
// (/var/lib/release-switcher/tool, release-switcher's pinned copy) likewise: the run has its own (vitest.config.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { SYSTEM_ROOTS_FILE as HOST_ROOTS } from '../src/store/roots-registry.ts';
import { HOST_TOOL_HOME } from '../src/tool/home.ts';

let armed = false;
/** Whether root's tool home was on the host before the run: one the run made is a leak (vitest.config.ts names the run's own). */
let hostToolHomeBefore = true;

export default function setup(): void {
  // Every project inherits this global setup; one check is enough. It runs as the run's process exits, after
  // every project's own teardown (the registry's folder goes in its teardown, which vitest may run after ours).
  if (armed) return;
  armed = true;
  hostToolHomeBefore = existsSync(HOST_TOOL_HOME);
  process.on('exit', checkAndRemove);
}

function checkAndRemove(): void {
  const dir = process.env.RS_RUN_TMP;
  if (!dir) return;
  // The in-memory folder of the unit, registry and system tiers, on tmpfs where there is one (vitest.config.ts),
  // held to the same rules.
  const memory = process.env.RS_MEMORY_TMP;
  const folders = memory && memory !== dir ? [memory, dir] : [dir];
  for (const folder of folders) checkHostRoots(folder);
  killLeftProcesses(folders);
  if (!hostToolHomeBefore && existsSync(HOST_TOOL_HOME)) {
    spawnSync('rm', ['-rf', HOST_TOOL_HOME]);
    process.exitCode = 1;
    process.stderr.write(
      `run-tmp: FAILED: tests made root's tool home ${HOST_TOOL_HOME} (removed now; a command's environment needs RELEASE_SWITCHER_TOOL_HOME, as cliEnv gives it)\n`,
    );
  }
  for (const folder of folders) removeFolder(folder);
}

/** Removes a run's temp folder; anything of ours still in it fails the run. */
function removeFolder(dir: string): void {
  let left: string[];
  try {
    // Ours are named rs-*; vitest keeps its own module cache here too (removed with the folder).
    left = readdirSync(dir).filter((name) => name.startsWith('rs-'));
  } catch {
    return;
  }
  spawnSync('chattr', ['-R', '-f', '-i', dir]);
  rmSync(dir, { recursive: true, force: true });
  if (left.length === 0) return;
  // An exit listener may still set the exit code: this is what CI sees.
  process.exitCode = 1;
  process.stderr.write(
    `run-tmp: FAILED: tests left ${left.length} entries in the temp dir (removed now; each test must clean what it makes): ${byPrefix(left)}\n`,
  );
}

/**
 * Processes with one of the run's folders in their environment or command line, other than this process, its
 * ancestors and its own children (vite's esbuild service, which ends with it): killed, and the run failed. As root
 * every account's processes are seen; as an account, its own.
 */
function killLeftProcesses(folders: string[]): void {
  const spared = new Set([process.pid]);
  for (let pid = process.ppid; pid > 1 && !spared.has(pid); pid = statOf(pid)?.ppid ?? 0) spared.add(pid);
  const left: string[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || spared.has(pid)) continue;
    const stat = statOf(pid);
    if (!stat || stat.state === 'Z' || stat.ppid === process.pid) continue;
    let seen: string;
    try {
      seen = `${readFileSync(`/proc/${pid}/environ`, 'latin1')}\0${readFileSync(`/proc/${pid}/cmdline`, 'latin1')}`;
    } catch {
      continue; // gone, or another account's
    }
    if (!folders.some((folder) => seen.includes(folder))) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      continue; // ended meanwhile
    }
    left.push(stat.comm);
  }
  if (left.length === 0) return;
  process.exitCode = 1;
  process.stderr.write(
    `run-tmp: FAILED: tests left ${left.length} process(es) running (killed now; each test must stop what it starts): ${byPrefix(left, (comm) => comm)}\n`,
  );
}

/** A process's parent, state and name (`/proc/<pid>/stat`); undefined when it is gone. */
function statOf(pid: number): { ppid: number; state: string; comm: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const close = stat.lastIndexOf(')');
    const [state, ppid] = stat.slice(close + 2).split(' ');
    return { ppid: Number(ppid), state: state!, comm: stat.slice(stat.indexOf('(') + 1, close) };
  } catch {
    return undefined;
  }
}

/** Roots of this run (under `dir`) in the host's list: taken out again, named, and the run failed. */
function checkHostRoots(dir: string): void {
  let list: { roots?: Array<{ root?: string }> };
  try {
    list = JSON.parse(readFileSync(HOST_ROOTS, 'utf8'));
  } catch {
    return; // no list on this host (or not one to read): nothing of ours in it
  }
  const ours = (list.roots ?? []).filter((entry) => entry.root?.startsWith(`${dir}/`));
  if (ours.length === 0) return;
  list.roots = (list.roots ?? []).filter((entry) => !ours.includes(entry));
  writeFileSync(HOST_ROOTS, `${JSON.stringify(list, null, 2)}\n`);
  process.exitCode = 1;
  process.stderr.write(
    `run-tmp: FAILED: tests added ${ours.length} root(s) to the host's ${HOST_ROOTS} (taken out now; a command's environment needs RELEASE_SWITCHER_SYSTEM_ROOTS, as cliEnv gives it): ${byPrefix(ours.map((entry) => entry.root!.slice(dir.length + 1).split('/')[0]!))}\n`,
  );
}

/**
 * `rs-test-npm-* ×3, rs-root-a1B2c3`: names grouped by what precedes mkdtemp's random suffix (or by `group`: a
 * process's name as it is).
 */
function byPrefix(names: string[], group = (name: string) => name.replace(/[A-Za-z0-9]{6}$/, '*')): string {
  const counts = new Map<string, number>();
  for (const name of names) {
    const prefix = group(name);
    counts.set(prefix, (counts.get(prefix) ?? 0) + 1);
  }
  return [...counts].map(([prefix, n]) => (n > 1 ? `${prefix} ×${n}` : prefix)).join(', ');
}
