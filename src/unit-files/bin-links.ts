/**
 * The `openclaw` users type. After an adopted install is updated, npm -g's link (`<prefix>/bin/openclaw`, a symlink into
 * the adopted copy) still runs the old release over state the new one migrated (measured: 2026.9.5's `plugins inspect`
 * printed nothing over 2026.9.6's state). Adoption records each such link (`<root>/npm-links.json`); `init --link-bin`
 * repoints them at `<root>/bin/<name>` (the fenced command of `current`), `init --unlink-bin` puts back exactly what was
 * there. Only symlinks are touched (that is what npm -g writes), each replaced by a rename: never half written.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';
import { readJsonIfExists, writeFileAtomic } from '../platform/fs.js';

export interface NpmLink {
  name: string;
  /** npm -g's link, e.g. /usr/local/bin/openclaw. */
  link: string;
  /** `<root>/bin/<name>`. */
  ours: string;
  /** What the link pointed at before `--link-bin` (null: never repointed by us). */
  original: string | null;
  /**
   * `script`: not a symlink but a script that runs the adopted copy (install-cli.sh's wrapper, pnpm's shim), found at
   * adopt; `--link-bin` replaces it with a link to ours and keeps its text to put back. Absent: npm -g's symlink.
   */
  kind?: 'script';
  /** The script's text before `--link-bin` replaced it (null or absent: not replaced by us). */
  originalScript?: string | null;
}

const RECORD = 'npm-links.json';
const recordOf = (root: string) => path.join(root, RECORD);

/** The npm -g links adopt recorded (none for a root not adopted). */
export async function readNpmLinks(root: string): Promise<NpmLink[]> {
  return ((await readJsonIfExists(recordOf(root))) as { links?: NpmLink[] } | undefined)?.links ?? [];
}

/** At adopt: remember npm -g's links of the package's commands (what was repointed before stays known). */
export async function recordNpmLinks(
  root: string,
  links: readonly Omit<NpmLink, 'original' | 'originalScript'>[],
): Promise<void> {
  const known = new Map((await readNpmLinks(root)).map((l) => [l.link, l]));
  const merged = links.map((l) => {
    const before = known.get(l.link);
    return {
      ...l,
      original: before?.original ?? null,
      ...(before?.originalScript != null ? { originalScript: before.originalScript } : {}),
    };
  });
  await writeFileAtomic(recordOf(root), `${JSON.stringify({ links: merged }, null, 2)}\n`);
}

async function readlink(file: string): Promise<string | null> {
  try {
    return await fs.readlink(file);
  } catch (error) {
    if (errnoOf(error) === 'EINVAL' || errnoOf(error) === 'ENOENT') return null; // not a symlink, or no such file
    throw error;
  }
}

/** A script put back in one rename (never half written), executable as install-cli.sh and pnpm write theirs. */
async function putScriptBack(file: string, text: string): Promise<void> {
  const temp = `${file}.rs-${process.pid}`;
  await fs.rm(temp, { force: true });
  await fs.writeFile(temp, text, { mode: 0o755 });
  await fs.rename(temp, file);
}

async function pointAt(link: string, target: string): Promise<void> {
  const temp = `${link}.rs-${process.pid}`;
  await fs.rm(temp, { force: true });
  await fs.symlink(target, temp);
  await fs.rename(temp, link);
}

/**
 * `--link-bin`: each recorded npm -g link (and each wrapper or shim adopt found) now runs `<root>/bin/<name>`; what
 * each pointed at, or said, is recorded first.
 */
export async function linkNpmBins(root: string): Promise<NpmLink[]> {
  const links = await readNpmLinks(root);
  if (links.length === 0)
    throw new ReleaseSwitcherError('USAGE', `${root} has no npm -g command to link: it was not adopted.`, {
      hint: 'Adopt the npm -g install first: release-switcher init --preset openclaw --adopt "$(npm root -g)/openclaw" --link-bin',
    });
  for (const entry of links) {
    const now = await readlink(entry.link);
    if (now === entry.ours) continue;
    // Nothing there (npm's link of a prefix whose bin/ holds none): nothing runs the old copy by that name.
    if (now === null && !(await fs.lstat(entry.link).catch(() => undefined))) continue;
    if (now === null && entry.kind === 'script') {
      // What it says now is what --unlink-bin puts back; recorded before it changes.
      entry.originalScript = await fs.readFile(entry.link, 'utf8');
      await writeFileAtomic(recordOf(root), `${JSON.stringify({ links }, null, 2)}\n`);
      await pointAt(entry.link, entry.ours);
      continue;
    }
    if (now === null)
      throw new ReleaseSwitcherError('USAGE', `${entry.link} is not npm's symlink; it is left as it is.`, {
        hint: `Put ${path.dirname(entry.ours)} first on PATH instead: export PATH="${path.dirname(entry.ours)}:$PATH"`,
      });
    entry.original = now;
    await writeFileAtomic(recordOf(root), `${JSON.stringify({ links }, null, 2)}\n`); // before the link changes
    await pointAt(entry.link, entry.ours);
  }
  return links;
}

/** `--unlink-bin`: each link we repointed goes back to what it pointed at; others are left alone. */
export async function unlinkNpmBins(root: string): Promise<NpmLink[]> {
  const links = await readNpmLinks(root);
  for (const entry of links) {
    if ((await readlink(entry.link)) !== entry.ours) continue;
    if (entry.kind === 'script' && typeof entry.originalScript === 'string') {
      await putScriptBack(entry.link, entry.originalScript);
      entry.originalScript = null;
      await writeFileAtomic(recordOf(root), `${JSON.stringify({ links }, null, 2)}\n`);
      continue;
    }
    if (entry.original === null) continue;
    await pointAt(entry.link, entry.original);
    entry.original = null;
    await writeFileAtomic(recordOf(root), `${JSON.stringify({ links }, null, 2)}\n`);
  }
  return links;
}
