/**
 * The one consolidated copy of a state database that the target's check reads (database-preflight.ts), made by one
 * Node process running as the service's account: it reads the database's header, copies a checkpoint's stored files
 * out, and has SQLite write the copy (`VACUUM INTO`), all with the account's rights. Root acting for the account reads
 * none of the account's files itself: a live path is opened by the account (a link it planted to a root-only file is
 * refused by the kernel, as its own read would be), and a checkpoint's folder (root's tree, under the root-only
 * `snapshots/`) is handed to it as a descriptor opened without following a link, which it reaches as
 * `/proc/self/fd/3`. What the copy writes lands in the account's own work folder, made by its own process: root
 * creates, chmods and chowns nothing there.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import { type RunAs, actsForAnother } from '../platform/run-as.js';
import { type RunResult, runCaptured } from '../platform/subprocess.js';
import { SQLITE_COMPANIONS } from '../snapshot/state-paths.js';

/** What the copy prints for a file that SQLite would not open as a database: no header, and not empty. */
const NOT_SQLITE = 'release-switcher: not a SQLite database';

/**
 * argv: the file to read, the copy to write, `stored` (a checkpoint's: copied out first, then opened, never opened in
 * place, where a read would leave a `-shm`) or `live`, then the companions' suffixes. The header is read before
 * `node:sqlite` is loaded, so a file that is no database is told apart even on a Node without it. A FIFO planted by
 * the name is opened without blocking.
 */
const COPY_SCRIPT = `
const fs = require('node:fs');
const [source, copy, kind, ...companions] = process.argv.slice(1);
const isDatabase = (file) => {
  let fd;
  try { fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK); }
  catch (error) { if (error.code === 'ENOENT') return true; throw error; }
  try {
    const size = fs.fstatSync(fd).size, header = Buffer.alloc(16);
    const read = fs.readSync(fd, header, 0, 16, 0);
    return size === 0 || (read === 16 && header.toString('latin1') === 'SQLite format 3\\0');
  } finally { fs.closeSync(fd); }
};
if (!isDatabase(source)) { console.log(${JSON.stringify(NOT_SQLITE)}); process.exit(0); }
const raw = copy + '.stored';
const from = kind === 'stored' ? raw : source;
try {
  if (kind === 'stored')
    for (const suffix of ['', ...companions])
      try { fs.copyFileSync(source + suffix, raw + suffix); } catch (error) { if (suffix === '' || error.code !== 'ENOENT') throw error; }
  const { DatabaseSync } = require('node:sqlite');
  const db = new DatabaseSync(from, { readOnly: true });
  try { db.exec('PRAGMA busy_timeout = 10000'); db.prepare('VACUUM INTO ?').run(copy); } finally { db.close(); }
} finally {
  if (kind === 'stored') for (const suffix of ['', ...companions]) fs.rmSync(raw + suffix, { force: true });
}`;

export interface CopyRequest {
  node: string;
  /** The live database, or its copy in a checkpoint (`stored`). */
  file: string;
  /** A checkpoint's copy: the folder of root's own tree that holds it (the checkpoint's `data/`). */
  stored?: { within: string } | undefined;
  /** The consolidated copy to write (in the work folder `as` owns). */
  copy: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  as?: RunAs | undefined;
}

/** The copy's outcome: made, not a database (no verdict to ask for), or failed with what the process said. */
export type CopyOutcome = { made: true } | { made: false; notDatabase: true } | { made: false; failed: RunResult };

export async function consolidatedCopy(request: CopyRequest): Promise<CopyOutcome> {
  const { stored } = request;
  const handed = stored && actsForAnother(request.as);
  const dir = handed ? await openWithin(stored.within) : undefined;
  try {
    const source = handed ? `/proc/self/fd/3/${relativeIn(stored.within, request.file)}` : request.file;
    const copied = await runCaptured(
      request.node,
      ['--no-warnings', '-e', COPY_SCRIPT, source, request.copy, stored ? 'stored' : 'live', ...SQLITE_COMPANIONS],
      {
        env: request.env,
        timeoutMs: request.timeoutMs,
        signal: request.signal,
        as: request.as,
        ...(dir && { fds: [dir.fd] }),
      },
    );
    if (copied.failed) return { made: false, failed: copied };
    if (copied.output.includes(NOT_SQLITE)) return { made: false, notDatabase: true };
    return { made: true };
  } finally {
    await dir?.close();
  }
}

/** Root's own folder, opened without following a link (it is made of real folders, root-only above it). */
function openWithin(within: string): Promise<fs.FileHandle> {
  return fs.open(within, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
}

function relativeIn(within: string, file: string): string {
  const rel = path.relative(within, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel))
    throw new ReleaseSwitcherError('STATE_PATH_UNSAFE', `A checkpoint's database ${file} is not inside ${within}.`, {
      hint: 'The checkpoint is damaged: remove it (release-switcher prune) and take a new one.',
    });
  return rel;
}
