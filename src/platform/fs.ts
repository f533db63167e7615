/** Small filesystem primitives with the durability rules the journal and the links rely on. */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from '../model/errors.js';
import { clearImmutable } from './immutable.js';

/**
 * A regular file's bytes, read synchronously through a descriptor that follows no link and does not wait on a FIFO:
 * undefined when `file` is not a regular file (a link, a FIFO, a device, gone) or holds more than `maxBytes`. For the
 * walks that read thousands of small files of a folder an account may change while it is read (its state).
 */
export function readRegularFileSync(file: string, maxBytes: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size > maxBytes) return undefined;
    const bytes = Buffer.alloc(stat.size);
    let read = 0;
    while (read < bytes.length) {
      const n = readSync(fd, bytes, read, bytes.length - read, read);
      if (n === 0) break; // shorter now than its stat said
      read += n;
    }
    return bytes.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** fsync a directory so a rename or link inside it survives a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Write temp file, fsync it, rename over `file`, fsync the directory: readers see old or new, never
 * half. `durable: false` leaves out both fsyncs, for records that need not survive a power cut
 * (readers still never see half of one): the lock's owner record, whose holder dies with the machine.
 * Owner-only (0600) unless `mode` says otherwise: what we write is state, config or a record of them,
 * and may name a secret (a spec with credentials, a token in a unit), so no other user reads it.
 */
export async function writeFileAtomic(
  file: string,
  data: string,
  options: { durable?: boolean; mode?: number } = {},
): Promise<void> {
  const durable = options.durable ?? true;
  const tmp = tempName(file);
  try {
    const handle = await fs.open(tmp, 'wx', options.mode ?? 0o600);
    try {
      await handle.writeFile(data);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
  if (durable) await fsyncDir(path.dirname(file));
}

/**
 * Make `dir` (and any parent it needs) readable by its owner only (0700), also when an earlier version made it
 * 0755: the folders holding state, snapshots, staging and releases. The mode is set on the folder, not on each
 * file copied into it, so a state file that is 0644 inside a private folder stays unreadable to others in
 * our copies, whatever the copy does with its mode. A folder we cannot chmod (not ours) is left as it is.
 */
export async function makePrivateDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700).catch((error: unknown) => {
    if (errnoOf(error) !== 'EPERM') throw error;
  });
}

export async function pathExists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return false;
    throw error;
  }
}

/** Whether this process may run `file` (X_OK, links followed). */
export async function isExecutable(file: string): Promise<boolean> {
  return fs.access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** `name` on `dirs`, as `command -v` finds it: the first that this process may run. */
export async function lookUp(name: string, dirs: readonly string[]): Promise<string | undefined> {
  for (const dir of dirs) {
    const file = path.join(dir, name);
    if (await isExecutable(file)) return file;
  }
  return undefined;
}

/** Read and parse a JSON file; undefined when it does not exist. Parse errors are thrown to the caller. */
export async function readJsonIfExists(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
  return JSON.parse(text) as unknown;
}

/**
 * Remove a tree that may be sealed (directories without write bits). Root ignores the bits,
 * other users must first make directories writable again, which touches only this tree's own
 * directory inodes (directories are never shared between releases, files may be).
 * Returns true when it had to clear the immutable attribute on inodes other trees share.
 */
export async function removeTree(dir: string): Promise<boolean> {
  try {
    await removeSettled(dir);
    return false;
  } catch (error) {
    if (!['EACCES', 'EPERM'].includes(errnoOf(error) ?? '')) throw error;
  }
  const shared = await clearImmutable(dir); // EPERM even for root: an immutable release, or links into one
  await makeDirsWritable(dir);
  await removeSettled(dir);
  return shared;
}

/**
 * `rm -rf` that reports only once every removal it started has ended. Node's recursive fs.rm
 * rejects at the first failure while its other branches go on deleting, and the retry above then
 * raced them: a directory gone between its chmod and its readdir (CI, Node 24), or a shared file
 * unlinked after its attribute was cleared, so nobody knew to set it again on the release keeping it.
 */
async function removeSettled(target: string): Promise<void> {
  const stat = await fs.lstat(target).catch(ignoreMissing);
  if (!stat) return;
  if (!stat.isDirectory()) {
    await fs.unlink(target).catch(ignoreMissing);
    return;
  }
  const names = (await fs.readdir(target).catch(ignoreMissing)) ?? [];
  const results = await Promise.allSettled(names.map((name) => removeSettled(path.join(target, name))));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  await fs.rmdir(target).catch(ignoreMissing);
}

/** When a log is rotated and how many rotated files are kept beside it. */
export interface LogRotation {
  /** A log larger than this is rotated. */
  maxBytes: number;
  /** Rotated logs kept, `<log>.1` (the newest) to `<log>.<kept>`; at least 1. */
  kept: number;
}

/**
 * Rotate `log` when it is over the bound, by renames only: `<log>.<kept-1>` over `<log>.<kept>` (the oldest goes),
 * …, `<log>` to `<log>.1`; the next writer creates `<log>` afresh. A rename never truncates: a process still writing
 * the log through its descriptor goes on writing into `<log>.1`, and each file keeps its owner and mode. A crash
 * between two renames leaves a gap in the numbers, never a log lost. Callers serialise rotations (a lock): two at
 * once could rename the same file twice. Returns whether it rotated.
 */
export async function rotateLog(log: string, bound: LogRotation): Promise<boolean> {
  const stat = await fs.stat(log).catch(ignoreMissing);
  if (!stat || stat.size <= bound.maxBytes) return false;
  for (let n = bound.kept - 1; n >= 1; n -= 1) await fs.rename(`${log}.${n}`, `${log}.${n + 1}`).catch(ignoreMissing);
  await fs.rename(log, `${log}.1`);
  await fsyncDir(path.dirname(log));
  return true;
}

function ignoreMissing(error: unknown): undefined {
  if (errnoOf(error) === 'ENOENT') return undefined;
  throw error;
}

async function makeDirsWritable(dir: string): Promise<void> {
  const stat = await fs.lstat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) return;
  await fs.chmod(dir, 0o755);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await makeDirsWritable(path.join(dir, entry.name));
  }
}
