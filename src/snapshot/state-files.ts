/**
 * The files under some state paths, a few levels deep, never through a link: what the database preflight judges
 * (transaction/database-preflight-step.ts). Walked with lstat and readdir: a link is neither a file nor a folder here.
 * Another account's live state is walked as that account (state-side.ts `files`): a folder it swaps for a link
 * between the lstat and the readdir then lists at most what the account itself may list, never a root-only folder.
 * A checkpoint's copy is walked by the root's owner in place: nobody else reaches it (snapshots/ is 0700).
 */
import fs from 'node:fs/promises';
import path from 'node:path';

/** A live path and where its content is read: itself, or its copy in a checkpoint. */
export interface Place {
  live: string;
  at: string;
}

/** The files among `places` and under the folders among them, `depth` levels deep, each named by its live path too. */
export async function filesUnder(places: readonly Place[], depth = 4): Promise<Place[]> {
  const found: Place[] = [];
  for (const place of places) {
    const stat = await fs.lstat(place.at).catch(() => undefined);
    if (stat?.isFile()) found.push(place);
    if (!stat?.isDirectory() || depth === 0) continue;
    const entries = (await fs.readdir(place.at).catch(() => [] as string[])).sort();
    const below = entries.map((name) => ({ live: path.join(place.live, name), at: path.join(place.at, name) }));
    found.push(...(await filesUnder(below, depth - 1)));
  }
  return found;
}
