/**
 * A private copy of the service's state for a rehearsal: the candidate may migrate it, break it or
 * write to it freely, and the live state is never opened for writing. A SQLite database is copied as
 * one consolidated file by SQLite itself (sqlite-copy.ts: the copy is made while the service runs); with
 * no Node that has `node:sqlite`, it travels with its `-wal`/`-shm`/`-journal` companions instead.
 * Root acting for the service's account makes it as that account (state-side.ts): the live state is read, and the
 * copy written, with the account's rights only; the folder `dir` is made by root and handed to it.
 */
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import { actsAsRootFor } from '../platform/as-account.js';
import { removeTree } from '../platform/fs.js';
import type { RunAs } from '../platform/run-as.js';
import type { Layout } from '../store/layout.js';
import { readSnapshot } from './snapshot.js';
import { onStateSide } from './state-side.js';

/**
 * Copies each of `paths` (absolute, resolved) into `dir`. With exactly one path that is a directory,
 * the copy IS `dir` (so `{state}` stands for that directory); otherwise each path keeps its place
 * under `base` (the folder the configured paths share, see statePathsBase), so the copy is shaped like
 * the live state; a path outside `base` (or with no base) lands under `dir` by its base name. A path
 * that does not exist is simply absent. Returns the `{state}` value.
 */
export async function copyStatePrivately(
  paths: readonly string[],
  dir: string,
  options: PrivateCopyOptions | string | null = null,
): Promise<string> {
  const {
    base = null,
    residue = [],
    sqliteNodes = [process.execPath],
    skip = new Set<string>(),
    as,
  } = optionsOf(options);
  const handed = actsAsRootFor(as);
  await onStateSide(as, 'privateCopy', handed ? [dir] : [], {
    dir,
    copy: {
      paths: [...paths],
      base,
      residue: [...residue],
      sqliteNodes: [...sqliteNodes],
      skip: [...skip],
      into: handed,
    },
  });
  return dir;
}

/** Where the copy's paths are placed, and how (a bare string or null: `base` alone, as before). */
export interface PrivateCopyOptions {
  /** The folder the state paths share (statePathsBase). @default null */
  base?: string | null;
  /** The service's residue patterns (config `residue`). @default [] */
  residue?: readonly string[];
  /** Nodes to copy live databases with, the first with `node:sqlite` wins. @default [the running Node] */
  sqliteNodes?: ReadonlyArray<string | null | undefined>;
  /** Absolute paths left out (the resolved independent paths). @default none */
  skip?: ReadonlySet<string>;
  /** The account whose state it is, when not this process's: the copy is made as it. @default this process's */
  as?: RunAs | undefined;
}

const optionsOf = (o: PrivateCopyOptions | string | null): PrivateCopyOptions =>
  typeof o === 'string' || o === null ? { base: o } : o;

/**
 * The same private copy, of the state as snapshot `id` holds it: what a release finds once that
 * snapshot is put back (a rollback across a migration rehearses on the state it will really start
 * on, not on the one the newer release migrated). Paths absent then are absent here too.
 */
export async function copySnapshotPrivately(
  layout: Layout,
  id: string,
  dir: string,
  options: PrivateCopyOptions | string | null = null,
): Promise<string> {
  const { base = null, residue = [], as } = optionsOf(options);
  const manifest = await readSnapshot(layout, id);
  if (!manifest) {
    throw new ReleaseSwitcherError(
      'STATE_SNAPSHOT_MISSING',
      `There is no complete state snapshot ${id} in ${layout.snapshots} to rehearse on.`,
      {
        hint: 'See release-switcher status for the transaction that took it.',
      },
    );
  }
  const handed = actsAsRootFor(as);
  const data = path.join(layout.snapshot(id), 'data');
  await onStateSide(as, 'snapshotCopy', handed ? [data, dir] : [data], {
    dir,
    copy: { manifest, base, residue: [...residue], into: handed },
  });
  return dir;
}

export async function removePrivateCopy(dir: string): Promise<void> {
  await removeTree(dir);
}
