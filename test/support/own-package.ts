// A package of a test file's own, published to the seeded registry: the fixture gateway under another name, so that the
// file may move its tags, deprecate or unpublish its versions without touching the shared fixtures.
import { join } from 'node:path';
import { inject } from 'vitest';
import { tempDir } from './cli.ts';
import { writeGateway } from './fixture-sources.ts';
import { npm, publish } from './registry.ts';

/** Pack and publish the fixture gateway as `name` at `versions` (the last one ends up `latest`). */
export async function publishOwnPackage(name: string, versions: string[]): Promise<void> {
  const dir = tempDir('rs-au-pkg-');
  const sources = versions.map((version) => join(dir, 'src', version));
  for (const [i, version] of versions.entries())
    await writeGateway(sources[i]!, { name, version, depRange: '^1.0.0', engines: '>=20' });
  const { stdout } = await npm(['pack', ...sources, '--pack-destination', dir, '--json'], {});
  const registry = inject('registryUrl');
  for (const { filename } of JSON.parse(stdout) as Array<{ filename: string }>)
    await publish(join(dir, filename), { registry });
}
