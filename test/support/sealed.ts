// A sealed release made the way staging makes one (sealStaged), without a registry: for store tests.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sealStaged } from '../../src/stage/index.ts';
import type { Layout } from '../../src/store/layout.ts';

export async function stageReleaseForTest(layout: Layout, version: string, files: Record<string, string>, earlier: string[] = []): Promise<void> {
  const dir = join(layout.staging, version);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  const identity = { name: 'app', version, integrity: null, source: 'test', node: { path: process.execPath, version: process.version } };
  await sealStaged({ layout, pkgDir: dir, earlier, identity, progress: () => undefined });
  mkdirSync(layout.releases, { recursive: true });
  renameSync(dir, layout.release(version));
}
