/**
 * Unpacking a verified tarball with node-tar, refusing anything a package has no business
 * containing: paths that climb out, absolute paths, links that point outside the release,
 * hard links, devices and fifos, setuid/setgid bits.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import { ReleaseSwitcherError, asDiskFull, errnoOf } from '../model/errors.js';
import { run } from '../platform/subprocess.js';

const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink']);

/** Why an entry is unsafe, or undefined. `name` is the path inside the package (top folder stripped). */
export function unsafeEntryReason(entry: { path: string; type: string; mode?: number | undefined; linkpath?: string | undefined }): string | undefined {
  const raw = entry.path.replace(/\\/g, '/');
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) return `absolute path ${entry.path}`;
  if (raw.split('/').includes('..')) return `path ${entry.path} climbs out with ..`;
  if (!ALLOWED_TYPES.has(entry.type)) return `${entry.path} is a ${entry.type} entry`;
  if ((entry.mode ?? 0) & 0o7000) return `${entry.path} has setuid/setgid/sticky bits (mode ${(entry.mode ?? 0).toString(8)})`;
  if (entry.type === 'SymbolicLink') {
    const target = (entry.linkpath ?? '').replace(/\\/g, '/');
    if (target.startsWith('/') || /^[A-Za-z]:/.test(target)) return `symlink ${entry.path} points at the absolute path ${target}`;
    const inside = stripTop(raw);
    const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(inside), target));
    if (resolved === '..' || resolved.startsWith('../')) return `symlink ${entry.path} points outside the package (${target})`;
  }
  return undefined;
}

function stripTop(p: string): string {
  return p.split('/').slice(1).join('/') || '.';
}

/**
 * Extract `tarball` into `dest` (which must be empty), dropping the top folder as npm does. Every
 * entry is checked first by reading the whole archive with node-tar, so an unsafe tarball writes
 * nothing at all; the checked archive is then unpacked by the system's tar when there is one (about
 * three times faster than node-tar on a 12 k-file package), else by node-tar.
 */
export async function extractTarball(tarball: string, dest: string, options: { env: NodeJS.ProcessEnv; onFile?: (count: number) => void }): Promise<number> {
  const { files, needsMode } = await inspectTarball(tarball, options.onFile);
  await fs.mkdir(dest, { recursive: true });
  const system = await run('tar', ['-xzf', tarball, '-C', dest, '--strip-components=1', '--no-same-owner', '--no-same-permissions'], { env: options.env, timeoutMs: 600_000 }).catch(() => undefined);
  if (system?.exitCode !== 0) {
    if (system && /No space left/i.test(system.output)) throw asDiskFull(Object.assign(new Error(system.output), { code: 'ENOSPC' }), `extracting ${tarball}`);
    await fs.rm(dest, { recursive: true, force: true });
    await fs.mkdir(dest, { recursive: true });
    try {
      await tar.x({ file: tarball, cwd: dest, strip: 1, strict: true, preservePaths: false, preserveOwner: false, umask: 0o022 });
    } catch (error) {
      throw extractError(error, tarball);
    }
  }
  // Make every file readable and every directory traversable, as npm does: a release we cannot
  // hash is a release we cannot verify.
  for (const [rel, isDir] of needsMode) {
    const abs = path.join(dest, rel);
    const stat = await fs.lstat(abs).catch(() => undefined);
    if (stat && !stat.isSymbolicLink()) await fs.chmod(abs, (stat.mode & 0o7777) | (isDir ? 0o755 : 0o644));
  }
  return files;
}

/** Read every header; refuse the tarball when one entry is unsafe. */
async function inspectTarball(tarball: string, onFile?: (count: number) => void): Promise<{ files: number; needsMode: Map<string, boolean> }> {
  const problems: string[] = [];
  const needsMode = new Map<string, boolean>();
  let files = 0;
  try {
    await tar.t({
      file: tarball,
      strict: true,
      onReadEntry: (entry) => {
        const reason = unsafeEntryReason(entry);
        if (reason) problems.push(reason);
        const isDir = entry.type === 'Directory';
        const wanted = isDir ? 0o755 : 0o644;
        if (entry.mode !== undefined && (entry.mode & wanted) !== wanted) needsMode.set(stripTop(entry.path.replace(/\\/g, '/')), isDir);
        if (!isDir) onFile?.(++files);
      },
    });
  } catch (error) {
    throw extractError(error, tarball);
  }
  if (problems.length > 0) {
    throw new ReleaseSwitcherError('BAD_TARBALL', `The tarball is unsafe: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}.`, {
      hint: 'Do not install this package; report it to its publisher.',
      details: { problems },
    });
  }
  return { files, needsMode };
}

function extractError(error: unknown, tarball: string): unknown {
  const disk = asDiskFull(error, `extracting ${tarball}`);
  if (disk !== error) return disk;
  const code = errnoOf(error) ?? '';
  if (code.startsWith('TAR_') || code.startsWith('Z_') || /unexpected end|invalid|truncat/i.test(String((error as Error)?.message))) {
    return new ReleaseSwitcherError('BAD_TARBALL', `The tarball is truncated or corrupt (${(error as Error).message}).`, {
      hint: 'Download it again; if it persists the tarball is broken.',
      cause: error,
    });
  }
  return error;
}
