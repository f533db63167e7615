/**
 * The fast path's packages placed while the main package is still unpacking: the tree is usually
 * known seconds before the main tarball (openclaw's: 12,500 files) is written, and extracting the
 * new packages and linking the unchanged ones need nothing from it. They go into a folder of their
 * own beside the package (`<staging>/deps/node_modules`), which one rename moves into the package once
 * both are done. Nothing is written into the package meanwhile: what its node_modules/ holds after
 * the unpack came in its tarball (bundled packages, which npm builds as any other). A package that
 * brought a node_modules/ of its own gets its packages placed in it as before, and what was placed
 * beside it is removed unused, unless a name is taken on both sides (moveInto).
 */
import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathExists } from '../platform/fs.js';
import { removeTreeKeepingReleases } from '../store/immutable-release.js';
import type { Layout } from '../store/layout.js';
import { errnoOf } from '../model/errors.js';
import { type PlaceInput, type Placed, placePackages } from './place-packages.js';

export interface PlacingBeside {
  /** The folder the packages are placed in (its node_modules/ is what moves). */
  root: string;
  /** The release linked from, as placePackages was given it. */
  previous: PlaceInput['previous'];
  placed: Promise<Placed>;
  /** Stop starting work and wait until nothing writes under `root` any more (staging failed or went another way). */
  stop(): Promise<void>;
}

/** Start placing `input.tree`'s packages in `<work>/deps`; returns at once. */
export function placeBeside(input: Omit<PlaceInput, 'root'> & { work: string }): PlacingBeside {
  const stopping = new AbortController();
  const signal = input.signal ? AbortSignal.any([input.signal, stopping.signal]) : stopping.signal;
  const root = path.join(input.work, 'deps');
  const placed = fs.mkdir(root).then(() => placePackages({ ...input, root, signal }));
  placed.catch(() => undefined);
  return {
    root,
    previous: input.previous,
    placed,
    stop: async () => {
      stopping.abort();
      await placed.catch(() => undefined);
    },
  };
}

/**
 * The placed packages moved into `pkgDir`'s node_modules/: one rename when the package's tarball
 * brought none, else each package folder renamed in beside the bundled ones (a scope folder or .bin/
 * both have is merged one level down). When a name is taken on both sides (a tarball that carries a
 * package its tree also places, without declaring it bundled) nothing is moved, what was placed
 * beside is removed, and the name is returned: npm lays the tree's package over the tarball's copy,
 * which only npm itself reproduces (the caller falls back to it). A failure to place is thrown here.
 */
export async function moveInto(
  layout: Layout,
  beside: PlacingBeside,
  pkgDir: string,
): Promise<Placed | { clash: string }> {
  const placed = await beside.placed;
  const source = path.join(beside.root, 'node_modules');
  const target = path.join(pkgDir, 'node_modules');
  const moves = (await pathExists(source)) ? await plannedMoves(source, target) : [];
  if (typeof moves === 'string') {
    await discard(layout, beside);
    return { clash: moves };
  }
  for (const [from, to] of moves) await fs.rename(from, to);
  await fs.rm(beside.root, { recursive: true });
  return placed;
}

/**
 * The renames that move `source`'s entries into `target` without replacing any; else the first name
 * taken (its path in the package). A folder merged into must be a real folder of the package: a rename through a symlink the
 * tarball put there would land outside it (npm removes such a node_modules/ and starts afresh).
 */
async function plannedMoves(source: string, target: string): Promise<[string, string][] | string> {
  const top = await lstatIfAny(target);
  if (!top) return [[source, target]];
  if (!top.isDirectory()) return 'node_modules';
  const moves: [string, string][] = [];
  for (const name of (await fs.readdir(source)).sort()) {
    const from = path.join(source, name);
    const to = path.join(target, name);
    const there = await lstatIfAny(to);
    if (!there) moves.push([from, to]);
    else if ((name.startsWith('@') || name === '.bin') && there.isDirectory()) {
      for (const inner of (await fs.readdir(from)).sort()) {
        if (await pathExists(path.join(to, inner))) return `node_modules/${name}/${inner}`;
        moves.push([path.join(from, inner), path.join(to, inner)]);
      }
    } else return `node_modules/${name}`;
  }
  return moves;
}

async function lstatIfAny(p: string): Promise<Stats | undefined> {
  return fs.lstat(p).catch((error: unknown) => {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  });
}

/** Stop placing and remove what was placed (its links into immutable releases keep the attribute there). */
export async function discard(layout: Layout, beside: PlacingBeside): Promise<void> {
  await beside.stop();
  await removeTreeKeepingReleases(layout, beside.root);
}
