// The run's temp folder (vitest.config.ts makes it and points TMPDIR at it): removed at the end of the run, with
// whatever a test or a killed worker left in it. Sealed releases carry the immutable attribute where root may set
// it, so it is cleared first. A test cleans what it makes, also when it fails (tempDir, onTestFinished, afterAll):
// anything of ours (rs-*) still here at the end is a leak, named on stderr and failing the run, so a new one is
// seen at once rather than as a /tmp that fills up where TMPDIR is not redirected.
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';

let armed = false;

export default function setup(): void {
  // Every project inherits this global setup; one check is enough. It runs as the run's process exits, after
  // every project's own teardown (the registry's folder goes in its teardown, which vitest may run after ours).
  if (armed) return;
  armed = true;
  process.on('exit', checkAndRemove);
}

function checkAndRemove(): void {
  const dir = process.env.RS_RUN_TMP;
  if (!dir) return;
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

/** `rs-test-npm-* ×3, rs-root-a1B2c3`: names grouped by what precedes mkdtemp's random suffix. */
function byPrefix(names: string[]): string {
  const counts = new Map<string, number>();
  for (const name of names) {
    const prefix = name.replace(/[A-Za-z0-9]{6}$/, '*');
    counts.set(prefix, (counts.get(prefix) ?? 0) + 1);
  }
  return [...counts].map(([prefix, n]) => (n > 1 ? `${prefix} ×${n}` : prefix)).join(', ');
}
