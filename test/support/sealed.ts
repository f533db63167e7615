// A sealed release made the way staging makes one (sealStaged), without a registry: for store tests.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sealStaged } from '../../src/stage/seal-staged.ts';
import { sealReleaseTop } from '../../src/store/seal.ts';
import { recordFingerprints, refreshAfterLinks } from '../../src/store/fingerprints.ts';
import { makeReleaseImmutable } from '../../src/store/immutable-release.ts';
import type { Layout } from '../../src/store/layout.ts';

export async function stageReleaseForTest(
  layout: Layout,
  version: string,
  files: Record<string, string>,
  earlier: string[] = [],
): Promise<void> {
  const dir = join(layout.staging, version);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  const identity = {
    name: 'app',
    version,
    integrity: null,
    source: 'test',
    node: { path: process.execPath, version: process.version },
  };
  const { marker, inodes } = await sealStaged({ layout, pkgDir: dir, earlier, identity, progress: () => undefined });
  mkdirSync(layout.releases, { recursive: true });
  renameSync(dir, layout.release(version));
  // As install's commitRelease ends: its top folder sealed once in releases/, immutable where it can be, then the
  // fingerprints, last.
  await sealReleaseTop(layout.release(version));
  await makeReleaseImmutable(layout, marker);
  await refreshAfterLinks(layout, earlier, inodes);
  await recordFingerprints(layout, version, layout.release(version));
}
