/** SIGKILLs every process in the cgroup trees until they are empty (or the deadline passes). */
async function killTree(tops: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = new Set(tops.flatMap(procsUnder));
    if (pids.size === 0) return;
    if (Date.now() > deadline) throw new Error(`processes survived SIGKILL in ${tops.join(', ')}: ${[...pids].join(' ')}`);
    for (const pid of pids) killQuietly(pid);
    await delay(20);
  }
}

/** rmdir the cgroup trees, deepest first; retries EBUSY, which a cgroup reports for a moment after its last exit. */
async function removeTree(tops: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const top of tops) {
    for (const dir of cgroupDirs(top)) {
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
}

/** A cgroup dir and all its descendants (the subdirectories; the files are controls), deepest first. */
function cgroupDirs(top: string): string[] {
  if (!existsSync(top)) return [];
  const subs = readdirSync(top, { withFileTypes: true, recursive: true })
    .filter((d) => d.isDirectory())
    .map((d) => path.join(d.parentPath, d.name));
  return [top, ...subs].sort((a, b) => b.length - a.length);
}

function procsUnder(top: string): number[] {
  return cgroupDirs(top).flatMap((dir) => {
    try {
      return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return []; // removed while we walked
    }
  });
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

// Last resort when the test process goes away with managers still up (a test forgot stop(), or vitest ended the
// worker): vitest stops its fork workers with SIGTERM, and a signal death emits no 'exit' event, so listen to both.
// Our SIGTERM listener also stops execa's signal-exit from re-raising the signal: we exit ourselves, after cleanup.
// (If the process is SIGKILLed, pdeathsig stops the managers and sweepStale() removes the dirs on the next start.)
function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.once('exit', killAllSync);
  for (const [signal, number] of [['SIGTERM', 15], ['SIGINT', 2], ['SIGHUP', 1]] as const) {
    process.once(signal, () => {
      killAllSync();
      process.exit(128 + number);
    });
  }
}

/** Synchronous, so it can run in an 'exit' listener: SIGKILL by PID until the cgroups are empty, then remove all. */
function killAllSync(): void {
  const tick = new Int32Array(new SharedArrayBuffer(4));
  for (const { cgroups, root } of live) {
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    for (let pids = cgroups.flatMap(procsUnder); pids.length > 0 && Date.now() < deadline; pids = cgroups.flatMap(procsUnder)) {
      pids.forEach(killQuietly);
      Atomics.wait(tick, 0, 0, 10); // a synchronous 10 ms sleep
    }
    for (const top of cgroups) for (const dir of cgroupDirs(top)) tryQuietly(() => rmdirSync(dir));
    tryQuietly(() => rmSync(root, { recursive: true, force: true }));
  }
  live.clear();
}

/** Removes cgroups and temp dirs left by test processes that are gone (SIGKILLed workers, crashed runs). */
function sweepStale(mounts: string[]): void {
  const ownerGone = (name: string) => {
    const owner = /^rs-systemd-(\d+)-/.exec(name)?.[1];
    return owner !== undefined && !isAlive(Number(owner));
  };
  for (const mount of mounts) {
    for (const name of safeReaddir(mount).filter(ownerGone)) {
      const top = path.join(mount, name);
      for (const pid of procsUnder(top)) killQuietly(pid);
      for (const dir of cgroupDirs(top)) tryQuietly(() => rmdirSync(dir));
    }
  }
  for (const name of safeReaddir(tmpdir()).filter(ownerGone)) {
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

function tryQuietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // best effort
  }
}
