// One Verdaccio for the whole run, seeded with the fixture packages; tests reach it through `inject()`.
// The registry and system projects both list this setup: they share one registry (started by the first, closed
// with the last), as every integration file did when they were one project.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { execa } from 'execa';
import { defaultTestAccount, nodeFor } from './support/accounts.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureNode24 } from '../bench/lib/node24.mjs';
import { hasNodeSqlite } from '../src/snapshot/sqlite-copy.ts';
import type { FixtureSet } from './support/fixtures.ts';
import { startRegistry } from './support/registry.ts';
import { seededStorage } from './support/seeded-storage.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the seeded Verdaccio, with a trailing slash. */
    registryUrl: string;
    fixtures: FixtureSet;
    /** A Node with node:sqlite: the suite's own where it has it (Node ≥ 22.5), else Node 24 from the registry. */
    sqliteNode: string;
  }
}

interface Shared {
  ready: Promise<{ url: string; fixtures: FixtureSet; close(): Promise<void> }>;
  users: number;
}
// On globalThis: vitest may load this file once per project, but every project's setup runs in this one process.
const slot = globalThis as { rsTestRegistry?: Shared };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  slot.rsTestRegistry ??= { ready: start(), users: 0 };
  const shared = slot.rsTestRegistry;
  shared.users++;
  const { url, fixtures } = await shared.ready;
  project.provide('registryUrl', url);
  project.provide('fixtures', fixtures);
  // Databases in copies are made by SQLite through a Node that has it; under Node 20 that is the configured Node's
  // job, so the tests that copy databases name Node 24 as the service's Node, fetched here once per run.
  // The CLI and the services run as the normal account (accounts.ts): that Node must be one it may run.
  project.provide(
    'sqliteNode',
    (await hasNodeSqlite(process.execPath))
      ? process.execPath
      : nodeFor(defaultTestAccount(), (await ensureNode24()).node),
  );
  return async () => {
    if (--shared.users > 0) return;
    slot.rsTestRegistry = undefined;
    await (await shared.ready).close();
  };
}

async function start() {
  const started = performance.now();
  const root = await mkdtemp(join(tmpdir(), 'rs-test-registry-'));
  const { fixtures, storageDir, seeded } = await seededStorage(root);
  // The fixture tarballs are read by the CLI as the normal account (`install ./pkg.tgz`): readable by all, as a
  // tarball in a download folder is. Verdaccio's storage stays ours.
  await chmod(root, 0o711);
  await execa('chmod', ['-R', 'a+rX', join(root, 'fixtures')]);
  const registry = await startRegistry({ storageDir });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stderr.write(
    `global setup: ${fixtures.packages.length} packages on ${registry.url} in ${seconds}s (${seeded})\n`,
  );
  return {
    url: registry.url,
    fixtures,
    async close() {
      await registry.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
