// The tool home (src/tool/home.ts) a test's command runs with: one per account per run, under the run's temp folder, so
// release-switcher's pinned copy is made once per account per run, not once per test (a copy is ~130 MB, seconds).
// Root's comes from vitest.config.ts (RELEASE_SWITCHER_TOOL_HOME, set before any worker starts), never the host's
// /var/lib/release-switcher/tool.
import { execFileSync } from 'node:child_process';
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

/**
 * An installation of release-switcher as `npm install -g --prefix PREFIX` leaves it (`PREFIX/bin/node` beside it, as
 * nvm's prefix has its Node): the built package `from` (its dist, node_modules, package.json, layout) and its Node,
 * copied (not linked: they will be rewritten or removed), owned by `owner`.
 */
export function installPrefix(
  prefix: string,
  from: { node: string; packageDir: string },
  owner?: { uid: number; gid: number },
): { node: string; main: string; pkg: string } {
  const pkg = join(prefix, 'lib', 'node_modules', 'release-switcher');
  mkdirSync(pkg, { recursive: true });
  mkdirSync(join(prefix, 'bin'), { recursive: true });
  for (const entry of ['dist', 'node_modules', 'package.json', 'layout'])
    execFileSync('cp', ['-a', join(from.packageDir, entry), pkg]);
  execFileSync('cp', ['-a', from.node, join(prefix, 'bin', 'node')]);
  if (owner) execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, prefix]);
  return { node: join(prefix, 'bin', 'node'), main: join(pkg, 'dist', 'cli', 'main.js'), pkg };
}
