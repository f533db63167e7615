/**
 * An EnvironmentFile= of a unit: read and parsed as systemd would, without root ever following a link another account
 * placed. Root reads it itself only when every folder on its real path is root's and writable by nobody else (then no
 * one else can change what it names) and opens it with O_NOFOLLOW; otherwise a process that runs as the service's
 * account reads it, whose rights then bound what it reads. At most 1 MiB either way (an account's file of gigabytes
 * costs nothing to refuse).
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { type RunAs, actsForAnother } from '../platform/run-as.js';
import { runCaptured } from '../platform/subprocess.js';

/** What systemd puts in PATH when the manager's environment has none (systemd 252, split /usr). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * An EnvironmentFile='s assignments, as systemd parses them (parse_env_file): `#`/`;` lines are comments, space around
 * the name and an unquoted value is dropped, single quotes keep everything, double quotes and bare text take a
 * backslash escape, a backslash at a line's end continues it.
 */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  let i = 0;
  const at = (n = 0) => text[i + n] ?? '';
  while (i < text.length) {
    while (/[ \t\r\n]/.test(at()) && i < text.length) i++;
    if (at() === '#' || at() === ';') {
      while (i < text.length && at() !== '\n') i++;
      continue;
    }
    let name = '';
    while (i < text.length && !'=\n'.includes(at())) name += text[i++];
    if (at() !== '=') continue; // a line without `=`: ignored
    i++;
    let value = '';
    let pendingSpace = '';
    while (i < text.length && at() !== '\n') {
      const c = text[i++]!;
      if (c === "'") {
        value += pendingSpace;
        pendingSpace = '';
        while (i < text.length && at() !== "'") value += text[i++];
        i++;
      } else if (c === '"') {
        value += pendingSpace;
        pendingSpace = '';
        while (i < text.length && at() !== '"') {
          if (at() === '\\' && i + 1 < text.length) {
            i++;
            if (at() !== '\n') value += at();
            i++;
          } else value += text[i++];
        }
        i++;
      } else if (c === '\\') {
        // A backslash before the line's end continues the value on the next line (the space before it stays).
        if (at() !== '\n') {
          value += pendingSpace + at();
          pendingSpace = '';
        }
        i++;
      } else if (c === ' ' || c === '\t' || c === '\r') pendingSpace += c;
      else {
        if (value !== '' || pendingSpace === '') value += pendingSpace;
        pendingSpace = '';
        value += c;
      }
    }
    const key = name.trim();
    if (NAME.test(key)) env[key] = value;
  }
  return env;
}

/** Bound on an EnvironmentFile='s size: an environment is small; a file the account grew to gigabytes is refused. */
const FILE_BOUND = 1024 * 1024;

/** The text of an EnvironmentFile=, or why not. */
export async function readEnvironmentFile(
  file: string,
  as: RunAs | undefined,
  signal?: AbortSignal,
): Promise<string | { why: string }> {
  // Our own account's (or root's for root): read as systemd would, links followed with our own rights.
  const direct = actsForAnother(as) ? await rootsAlone(file) : file;
  if (direct !== undefined) {
    const flags = constants.O_RDONLY | constants.O_NONBLOCK | (actsForAnother(as) ? constants.O_NOFOLLOW : 0);
    const handle = await fs
      .open(direct, flags)
      .catch((error: NodeJS.ErrnoException) => ({ why: error.code ?? String(error) }));
    if ('why' in handle) return handle;
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) return { why: 'not a regular file' };
      if (stat.size > FILE_BOUND) return { why: `larger than ${FILE_BOUND} bytes` };
      return await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  }
  // As the account: `head` reads one byte past the bound, so a larger file is told from one that fits.
  const read = await runCaptured('/usr/bin/head', ['-c', String(FILE_BOUND + 1), '--', file], {
    env: { PATH: DEFAULT_PATH, LC_ALL: 'C' },
    timeoutMs: 10_000,
    signal,
    as,
  });
  if (read.failed) return { why: read.output.trim() || `exit ${read.exitCode}` };
  if (read.output.length > FILE_BOUND) return { why: `larger than ${FILE_BOUND} bytes` };
  return read.output;
}

/**
 * The real path of `file` when nobody but root can change what it names, else undefined. Every folder on the way as
 * written is root's and writable by no group or other account, and a link on the way is root's (so it was placed by
 * root); then every folder of the real path it leads to is checked the same way (a root link into an account's folder
 * fails there). The real path is what is then opened, O_NOFOLLOW.
 */
export async function rootsAlone(file: string): Promise<string | undefined> {
  const real = await fs.realpath(file).catch(() => undefined);
  if (!real || !path.isAbsolute(file)) return undefined;
  const rootOnly = async (dir: string, links: boolean) => {
    const stat = await fs.lstat(dir).catch(() => undefined);
    if (stat?.uid !== 0) return false;
    if (stat.isSymbolicLink()) return links;
    return stat.isDirectory() && (stat.mode & 0o022) === 0;
  };
  for (const [start, links] of [
    [path.dirname(path.normalize(file)), true],
    [path.dirname(real), false],
  ] as const)
    for (let dir = start; ; dir = path.dirname(dir)) {
      if (!(await rootOnly(dir, links))) return undefined;
      if (dir === '/') break;
    }
  return real;
}
