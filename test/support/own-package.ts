// A package of a test file's own, published to the seeded registry: the fixture gateway under another name, so that the
// file may move its tags, deprecate or unpublish its versions without touching the shared fixtures.
import { join } from 'node:path';
import { inject } from 'vitest';
import { tempDir } from './cli.ts';
import { type Behaviour, writeGateway } from './fixture-sources.ts';
import { npm, publish } from './registry.ts';

/**
 * Pack and publish the fixture gateway as `name` at `versions` (the last one ends up `latest`); a version may name its
 * behaviour (`{ version: '1.3.0', behaviour: 'refuse-start' }`).
 */
export async function publishOwnPackage(
  name: string,
  versions: Array<string | { version: string; behaviour: Behaviour }>,
): Promise<void> {
  const dir = tempDir('rs-au-pkg-');
  const specs = versions.map((v) => (typeof v === 'string' ? { version: v } : v));
  const sources = specs.map(({ version }) => join(dir, 'src', version));
  for (const [i, spec] of specs.entries())
    await writeGateway(sources[i]!, { name, ...spec, depRange: '^1.0.0', engines: '>=20' });
  const { stdout } = await npm(['pack', ...sources, '--pack-destination', dir, '--json'], {});
  const registry = inject('registryUrl');
  for (const { filename } of JSON.parse(stdout) as Array<{ filename: string }>)
    await publish(join(dir, filename), { registry });
}
