// Verdaccio's storage seeded with the fixture packages, prepared once and copied for each run: packing the fixtures
// and publishing them one by one is done when their sources change, not by every run (CI's second pass, under
// Node 24, copies what the first one prepared). The key is a hash of everything that shapes the storage: the
// fixture sources, the publishing code, npm's version (it packs) and Verdaccio's (it writes the storage).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildFixtures, type FixtureSet } from './fixtures.ts';
import { publish, startRegistry } from './registry.ts';

const HERE = import.meta.dirname;
const PROJECT = resolve(HERE, '../..');
/** Where prepared storages live (`npm ci` clears it with node_modules). */
export const STORAGE_CACHE = join(PROJECT, 'node_modules/.cache/rs-test-registry');
/** Stands for the folder a prepared set was copied to, in its recorded FixtureSet. */
const HOME = '$PREPARED';

/** The files whose content decides what the prepared storage holds. */
const SOURCES = ['fixtures.ts', 'fixture-sources.ts', 'bad-tarballs.ts', 'registry.ts', 'seeded-storage.ts'];

export function storageKey(): string {
  const hash = createHash('sha256');
  for (const file of SOURCES) hash.update(file).update(readFileSync(join(HERE, file)));
  hash.update(`npm ${execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim()}`);
  const verdaccio = JSON.parse(readFileSync(join(PROJECT, 'node_modules/verdaccio/package.json'), 'utf8'));
  hash.update(`verdaccio ${verdaccio.version}`);
  return hash.digest('hex').slice(0, 16);
}

export interface SeededStorage {
  fixtures: FixtureSet;
  /** Verdaccio's folder (storage, htpasswd) under the run's `root`, for `startRegistry`. */
  storageDir: string;
  /** How it was seeded, for the setup's log line. */
  seeded: string;
}

/** Copies the prepared storage and fixture tarballs into `root` (preparing them first when the key is new). */
export async function seededStorage(root: string, cache = STORAGE_CACHE): Promise<SeededStorage> {
  const key = storageKey();
  const prepared = join(cache, key);
  let seeded = `copied prepared storage ${key}`;
  if (!existsSync(join(prepared, 'fixtures.json'))) {
    await prepare(cache, key);
    seeded = `prepared storage ${key}: packed and published once`;
  }
  await cp(join(prepared, 'fixtures'), join(root, 'fixtures'), { recursive: true });
  await cp(join(prepared, 'verdaccio'), join(root, 'verdaccio'), { recursive: true });
  const recorded = await readFile(join(prepared, 'fixtures.json'), 'utf8');
  const fixtures = JSON.parse(recorded.replaceAll(HOME, root)) as FixtureSet;
  return { fixtures, storageDir: join(root, 'verdaccio'), seeded };
}

/** Packs and publishes into a private folder, then renames it into place: a concurrent run keeps the first one. */
async function prepare(cache: string, key: string): Promise<void> {
  await mkdir(cache, { recursive: true });
  const work = await mkdtemp(join(cache, `.${key}-`));
  try {
    const fixtures = await buildFixtures(join(work, 'fixtures'));
    const registry = await startRegistry({ storageDir: join(work, 'verdaccio') });
    try {
      // Sequential: order sets the dist-tags (`fixtures.distTags`), and Verdaccio serializes writes to a package anyway.
      for (const pkg of fixtures.packages) await publish(pkg.tarball, { registry: registry.url, tag: pkg.tag });
    } finally {
      await registry.close();
    }
    await writeFile(join(work, 'fixtures.json'), JSON.stringify(fixtures).replaceAll(work, HOME));
    await rename(work, join(cache, key)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
    // Storages of earlier sources are never read again.
    for (const name of await readdir(cache))
      if (name !== key && !name.startsWith('.')) await rm(join(cache, name), { recursive: true, force: true });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
