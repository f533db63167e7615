// The host's list of roots (/var/lib/release-switcher/roots.json) is what `init` run as root adds a root to, and
// what `--all` and the Ansible collection act on. A benchmark's roots are temporary: they go to a list of the run's
// own, named before any command is spawned (importing this module is enough), so that a benchmark run as root never
// leaves the machine's list naming folders that are gone.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

if (!process.env.RELEASE_SWITCHER_SYSTEM_ROOTS) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-bench-roots-'));
  process.env.RELEASE_SWITCHER_SYSTEM_ROOTS = path.join(dir, 'system-roots.json');
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
}
