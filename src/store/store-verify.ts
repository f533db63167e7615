/**
 * Checking the content-addressed store (content-store.ts) for `doctor`: each store file's content
 * against its name (its sha256) and its mode against the name's (no write bits), and each index
 * against its name and shape. `all`: every file (doctor --deep); otherwise a random sample of
 * SAMPLE files, and every index.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from '../model/errors.js';
import { setImmutablePaths } from '../platform/immutable.js';
import { mapLimit } from '../platform/tree.js';
import { STORE_FILE_NAME, asStoreIndex, holdsAll, keyOf } from './content-store.js';
import type { Layout } from './layout.js';
import { hashFile } from './manifest.js';

/** Files hashed by a doctor without --deep. */
export const SAMPLE = 256;
const HASH_PARALLELISM = 8;

export interface StoreReport {
  files: number;
  checked: number;
  indexes: number;
  /** Indexes naming files no longer in the store: harmless (staging does not use them), removed by prune. */
  incomplete: number;
  problems: string[];
  /** The store files (absolute paths) whose content or mode is not what their name says. */
  bad: string[];
}

async function entries(dir: string): Promise<string[]> {
  const shards = await fs.readdir(dir).catch((error: unknown) => {
    if (errnoOf(error) === 'ENOENT') return [] as string[];
    throw error;
  });
  const out: string[] = [];
  for (const shard of shards.sort())
    for (const name of (await fs.readdir(path.join(dir, shard)).catch(() => [] as string[])).sort())
      out.push(path.join(dir, shard, name));
  return out;
}

function sample<T>(items: T[], size: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, size);
}

export async function checkStore(layout: Layout, options: { all: boolean }): Promise<StoreReport> {
  const files = (await entries(layout.storeFiles)).filter((abs) => !path.basename(abs).startsWith('.'));
  const report: StoreReport = { files: files.length, checked: 0, indexes: 0, incomplete: 0, problems: [], bad: [] };
  const rel = (abs: string) => path.relative(layout.store, abs);
  const toCheck = options.all ? files : sample(files, SAMPLE);
  await mapLimit(toCheck, HASH_PARALLELISM, async (abs) => {
    const name = STORE_FILE_NAME.exec(path.basename(abs));
    if (!name) return void report.problems.push(`${rel(abs)}: not a store file's name`);
    try {
      const stat = await fs.lstat(abs);
      if (!stat.isFile()) return void report.problems.push(`${rel(abs)}: not a file`);
      if ((stat.mode & 0o7777) !== Number.parseInt(name[2]!, 8)) {
        report.bad.push(abs);
        return void report.problems.push(`${rel(abs)}: mode ${(stat.mode & 0o7777).toString(8)} is not ${name[2]}`);
      }
      const sha = await hashFile(abs);
      report.checked++;
      if (sha !== name[1]) {
        report.bad.push(abs);
        report.problems.push(`${rel(abs)}: content does not match its name`);
      }
    } catch (error) {
      report.problems.push(`${rel(abs)}: unreadable (${errnoOf(error) ?? String(error)})`);
    }
  });
  for (const abs of await entries(layout.storeIndex)) {
    const key = /^([0-9a-f]{64})\.json$/.exec(path.basename(abs))?.[1];
    if (!key) {
      if (!path.basename(abs).startsWith('.')) report.problems.push(`${rel(abs)}: not an index's name`);
      continue;
    }
    report.indexes++;
    const index = await fs.readFile(abs, 'utf8').then(
      (text) => {
        try {
          return asStoreIndex(JSON.parse(text));
        } catch {
          return undefined;
        }
      },
      () => undefined,
    );
    if (!index || keyOf(index) !== key) report.problems.push(`${rel(abs)}: not a valid index`);
    else if (!holdsAll(layout, index)) report.incomplete++;
  }
  report.problems.sort();
  return report;
}

/**
 * Take the store's name off files that are not what it says (doctor --fix): staging no longer links
 * them (their packages' indexes no longer hold), and any release that links the inode keeps it, and
 * fails its own check as before. Lifting the attribute to unlink lifts it for those releases too: the
 * caller sets it again on them.
 */
export async function dropBadFiles(bad: readonly string[]): Promise<void> {
  await setImmutablePaths(bad, false);
  for (const abs of bad) await fs.rm(abs, { force: true });
}
