// One Verdaccio for the whole run, seeded with the fixture packages; tests reach it through `inject()`.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureNode24 } from '../bench/lib/node24.mjs';
import { hasNodeSqlite } from '../src/snapshot/sqlite-copy.ts';
import { buildFixtures, type FixtureSet } from './support/fixtures.ts';
import { publish, startRegistry } from './support/registry.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the seeded Verdaccio, with a trailing slash. */
    registryUrl: string;
    fixtures: FixtureSet;
    /** A Node with node:sqlite: the suite's own where it has it (Node ≥ 22.5), else Node 24 from the registry. */
    sqliteNode: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = performance.now();
  const root = await mkdtemp(join(tmpdir(), 'rs-test-registry-'));
  const fixtures = await buildFixtures(join(root, 'fixtures'));
  const registry = await startRegistry({ storageDir: join(root, 'verdaccio') });
  // Sequential: order sets the dist-tags (`fixtures.distTags`), and Verdaccio serializes writes to a package anyway.
  for (const pkg of fixtures.packages) await publish(pkg.tarball, { registry: registry.url, tag: pkg.tag });
  project.provide('registryUrl', registry.url);
  project.provide('fixtures', fixtures);
  // Databases in copies are made by SQLite through a Node that has it; under Node 20 that is the configured Node's
  // job, so the tests that copy databases name Node 24 as the service's Node, fetched here once per run.
  project.provide(
    'sqliteNode',
    (await hasNodeSqlite(process.execPath)) ? process.execPath : (await ensureNode24()).node,
  );
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stderr.write(`global setup: ${fixtures.packages.length} packages on ${registry.url} in ${seconds}s\n`);
  return async () => {
    await registry.close();
    await rm(root, { recursive: true, force: true });
  };
}
