// The tool home (src/tool/home.ts) a test's command runs with: one per account per run, under the run's temp folder, so
// release-switcher's pinned copy is made once per account per run, not once per test (a copy is ~130 MB, seconds).
// Root's comes from vitest.config.ts (RELEASE_SWITCHER_TOOL_HOME, set before any worker starts), never the host's
// /var/lib/release-switcher/tool.
import { chownSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The tool home of `who` (an account) for this run; root's (the test process's own) without one. */
export function toolHomeFor(who?: { uid: number; gid: number } | null): string {
  if (!who || who.uid === (process.getuid?.() ?? -1))
    return process.env.RELEASE_SWITCHER_TOOL_HOME ?? join(process.env.RS_RUN_TMP ?? tmpdir(), 'tool-home-self');
  // A folder of the account's own (0755: it is what its units run) beside which it makes its home.
  const parent = join(process.env.RS_RUN_TMP ?? tmpdir(), `tool-home-${who.uid}`);
  if (!existsSync(parent)) {
    mkdirSync(parent, { recursive: true, mode: 0o755 });
    chownSync(parent, who.uid, who.gid);
  }
  return join(parent, 'home');
}
