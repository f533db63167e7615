/**
 * The configured state paths (`--state-path`), resolved when a snapshot is taken: by the boot-check,
 * inside the service's own environment, so `~` and `${OPENCLAW_STATE_DIR:-…}` mean what they mean
 * to the service. Any segment of a path may hold `*` and `?` wildcards, as in a shell.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ReleaseSwitcherError, errnoOf } from '../model/errors.js';

/** What SQLite keeps beside a database; they belong to it and are copied and restored with it. */
export const SQLITE_COMPANIONS = ['-wal', '-shm', '-journal'] as const;
const SQLITE_EXTENSIONS = new Set(['.db', '.sqlite', '.sqlite3', '.db3']);
const SQLITE_HEADER = 'SQLite format 3\0';

const invalid = (pattern: string, why: string) =>
  new ReleaseSwitcherError('INVALID_CONFIG', `The state path "${pattern}" ${why}.`, {
    hint: 'State paths are absolute, may start with ~ and use ${NAME} or ${NAME:-fallback}: release-switcher init --state-path PATH',
  });

/** `${NAME}` and `${NAME:-fallback}` (fallbacks may nest), then a leading `~`, from `env`. */
export function expandStatePath(pattern: string, env: NodeJS.ProcessEnv): string {
  let expanded = expandVariables(pattern, pattern, env);
  if (expanded === '~' || expanded.startsWith('~/')) expanded = path.join(env.HOME || os.homedir(), expanded.slice(1));
  if (!path.isAbsolute(expanded)) throw invalid(pattern, `is not absolute once expanded (${expanded})`);
  return path.normalize(expanded);
}

function expandVariables(text: string, pattern: string, env: NodeJS.ProcessEnv): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (!text.startsWith('${', i)) {
      out += text[i];
      i += 1;
      continue;
    }
    const end = closingBrace(text, i + 2);
    if (end < 0) throw invalid(pattern, 'has a ${ without its }');
    const body = text.slice(i + 2, end);
    const split = body.indexOf(':-');
    const name = split < 0 ? body : body.slice(0, split);
    const value = env[name];
    if (value) out += value;
    else if (split >= 0) out += expandVariables(body.slice(split + 2), pattern, env);
    else throw invalid(pattern, `uses \${${name}}, which is not set (give a fallback: \${${name}:-…})`);
    i = end + 1;
  }
  return out;
}

function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i += 1) {
    if (text.startsWith('${', i)) {
      depth += 1;
      i += 1;
    } else if (text[i] === '}') {
      depth -= 1;
      if (depth === 0) return i;
    }
  }
  return -1;
}

const isGlob = (segment: string) => /[*?]/.test(segment);

function globToRegExp(segment: string): RegExp {
  const body = [...segment]
    .map((c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  // As in a shell, a wildcard never matches a leading dot: `*.sqlite` leaves `.hidden.sqlite` alone.
  return new RegExp(`^(?!\\.)${body}$`);
}

async function readdirQuietly(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort();
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return [];
    throw error;
  }
}

/** The existing paths a glob matches; a path without wildcards is itself, whether it exists or not. */
export async function matchStatePath(absolute: string): Promise<string[]> {
  const segments = absolute.split(path.sep).filter(Boolean);
  if (!segments.some(isGlob)) return [absolute];
  let bases = [path.parse(absolute).root];
  for (const segment of segments) {
    if (!isGlob(segment)) {
      bases = bases.map((base) => path.join(base, segment));
      continue;
    }
    const re = globToRegExp(segment);
    const next: string[] = [];
    for (const base of bases)
      for (const name of await readdirQuietly(base)) if (re.test(name)) next.push(path.join(base, name));
    bases = next;
  }
  return bases;
}

/**
 * Every path the configured state paths name right now, each once. A companion file (`x.db-wal`)
 * that a glob also matched is dropped: it travels with its database.
 */
export async function resolveStatePaths(patterns: readonly string[], env: NodeJS.ProcessEnv): Promise<string[]> {
  const found = new Set<string>();
  for (const pattern of patterns)
    for (const match of await matchStatePath(expandStatePath(pattern, env))) found.add(match);
  const isCompanion = (p: string) =>
    SQLITE_COMPANIONS.some((suffix) => p.endsWith(suffix) && found.has(p.slice(0, -suffix.length)));
  return [...found].filter((p) => !isCompanion(p));
}

/**
 * The folder the configured state paths share: the longest common folder of each pattern's fixed part
 * (before its first wildcard; a plain path's parent). A private copy keeps each path's place under it,
 * so openclaw's state/*.sqlite and its agents' databases copy to a tree shaped like its state dir.
 */
export function statePathsBase(patterns: readonly string[], env: NodeJS.ProcessEnv): string | null {
  const fixed = patterns.map((pattern) => {
    const segments = expandStatePath(pattern, env).split(path.sep);
    const glob = segments.findIndex(isGlob);
    return glob < 0 ? path.dirname(segments.join(path.sep)) : segments.slice(0, glob).join(path.sep) || path.sep;
  });
  if (fixed.length === 0) return null;
  let base = fixed[0]!;
  for (const dir of fixed.slice(1))
    while (base !== path.dirname(base) && dir !== base && !dir.startsWith(base + path.sep)) base = path.dirname(base);
  return base;
}

/** Whether a file is a SQLite database (by name, by header, or because it has companions beside it). */
export async function isSqliteFile(file: string): Promise<boolean> {
  if (SQLITE_EXTENSIONS.has(path.extname(file).toLowerCase())) return true;
  for (const suffix of SQLITE_COMPANIONS)
    if (
      await fs.lstat(file + suffix).then(
        () => true,
        () => false,
      )
    )
      return true;
  const handle = await fs.open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(SQLITE_HEADER.length), 0, SQLITE_HEADER.length, 0);
    return bytesRead === SQLITE_HEADER.length && buffer.toString('latin1') === SQLITE_HEADER;
  } finally {
    await handle.close();
  }
}

/**
 * A state path and the root must be apart: a state path that holds the root (or is `/`) makes every snapshot copy
 * the root into itself, and one inside the root would restore an old journal or release over the live one.
 * Compared after links are resolved, on each pattern's fixed part (before its first wildcard), which is what a
 * snapshot walks from. Checked by `init` with its own environment, and again where the snapshot is taken.
 */
export async function assertStatePathsApart(
  patterns: readonly string[],
  root: string,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const realRoot = await realpathOrSelf(path.resolve(root));
  for (const pattern of patterns) {
    const segments = expandStatePath(pattern, env).split(path.sep);
    const glob = segments.findIndex(isGlob);
    const fixed = await realpathOrSelf((glob < 0 ? segments : segments.slice(0, glob)).join(path.sep) || path.sep);
    const conflict =
      fixed === path.sep
        ? 'is the whole file system'
        : isWithin(realRoot, fixed)
          ? `contains the release root ${realRoot}`
          : isWithin(fixed, realRoot)
            ? `is inside the release root ${realRoot}`
            : null;
    if (conflict) {
      throw new ReleaseSwitcherError('INVALID_CONFIG', `The state path "${pattern}" (${fixed}) ${conflict}.`, {
        hint: 'Name the service state only (its state folder, its databases, its config file), apart from the root: release-switcher init --state-path PATH, or another --root.',
      });
    }
  }
}

/** `inner` is `outer` or below it. */
function isWithin(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(path.sep) ? outer : outer + path.sep);
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest (a state path may not exist yet). */
async function realpathOrSelf(p: string): Promise<string> {
  try {
    return await fs.realpath(p);
  } catch {
    const parent = path.dirname(p);
    return parent === p ? p : path.join(await realpathOrSelf(parent), path.basename(p));
  }
}
