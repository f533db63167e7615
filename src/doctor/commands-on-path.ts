/**
 * The commands users type: adopt writes `<root>/bin/<name>` (runs `current`), but npm -g's own `<name>` usually comes
 * first on PATH and keeps running the adopted copy, which never changes again. After an update that copy is older than
 * the state it is pointed at (measured with openclaw 2026.9.5 over state 2026.9.6 migrated: `plugins inspect` printed
 * nothing). This check fails such a command and names the one line that fixes it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { readNpmLinks } from '../unit-files/bin-links.js';
import { lookUp } from '../platform/fs.js';
import type { CheckContext, CheckResult } from './checks.js';

const NAME = 'commands-on-path';

const real = (file: string) => fs.realpath(file).catch(() => file);

/** undefined when the root offers no commands (it was not adopted). */
export async function commandsOnPath(ctx: Pick<CheckContext, 'layout' | 'env'>): Promise<CheckResult | undefined> {
  const dir = path.join(ctx.layout.root, 'bin');
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  if (names.length === 0) return undefined;
  const recordedLinks = await readNpmLinks(ctx.layout.root);
  const stale: string[] = [];
  const fixes: string[] = [];
  for (const name of names.sort()) {
    const ours = path.join(dir, name);
    const found = await lookUp(name, (ctx.env.PATH ?? '').split(path.delimiter).filter(Boolean));
    if (!found || (await real(found)) === (await real(ours))) continue;
    stale.push(`${found} (runs ${await real(found)}, not ${ours})`);
    // npm -g's link is a symlink: point it at ours (undo: point it back); anything else: put ours first on PATH.
    const link = await fs.lstat(found).then(
      (s) => s.isSymbolicLink(),
      () => false,
    );
    // One we recorded at adopt, a link or a script (pnpm's shim, install-cli.sh's wrapper, which --link-bin replaces
    // by a link and keeps the text of): the reversible command (init --unlink-bin undoes it).
    const recorded = recordedLinks.some((l) => l.link === found || l.link === path.resolve(found));
    fixes.push(
      recorded
        ? `release-switcher --root ${ctx.layout.root} init --link-bin`
        : link
          ? `ln -sfn ${ours} ${found}`
          : `export PATH="${dir}:$PATH"`,
    );
  }
  if (stale.length === 0)
    return { name: NAME, ok: true, detail: `${names.join(', ')} on PATH run the current release (or are not on PATH)` };
  return {
    name: NAME,
    ok: false,
    detail: `stale command on PATH, not the current release: ${stale.join('; ')}. Fix: ${[...new Set(fixes)].join(' && ')}`,
  };
}
