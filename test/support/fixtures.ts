// The fixture catalogue: real packages packed by npm, plus hand-made bad tarballs, all in one directory.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeBadTarballs } from './bad-tarballs.ts';
import { type Behaviour, type DepSpec, type GatewaySpec, writeDep, writeGateway } from './fixture-sources.ts';
import { npm } from './registry.ts';

export interface FixturePackage {
  name: string;
  version: string;
  /** `name@version`, also the key in `FixtureSet.tarballs`. */
  spec: string;
  /** Absolute path of the tarball `npm pack` wrote. */
  tarball: string;
  /** Dist-tag it is published under. */
  tag: string;
  /** SRI string (`sha512-…`), as the registry will report it. */
  integrity: string;
  /** Hex sha1, as the registry will report it. */
  shasum: string;
  /** Gateway-shaped packages only: the lazily imported chunk inside the package, e.g. `dist/chunk-1a2b3c4d.js`. */
  chunk?: string;
}

export interface FixtureSet {
  /** Directory holding every tarball. */
  tarballDir: string;
  /** Every tarball by key: `name@version` for real packages, `bad-…` for hand-made ones. */
  tarballs: Record<string, string>;
  /** Real packages in publish order: dependency first, and within a name the `latest` one last. */
  packages: FixturePackage[];
  /** name → tag → version, as publishing `packages` in order leaves them. */
  distTags: Record<string, Record<string, string>>;
}

type Fixture = { kind: 'dep'; tag: string; spec: DepSpec } | { kind: 'gateway'; tag: string; spec: GatewaySpec };

const gateway = (version: string, depRange: string, tag = 'latest', extra: Partial<GatewaySpec> = {}): Fixture => ({
  kind: 'gateway',
  tag,
  spec: { name: 'rs-fixture-gateway', version, depRange, engines: '>=20', ...extra },
});

/** The supervisor matrix: one release per way of failing verification, published under the `matrix` tag. */
export const MATRIX: Record<Exclude<Behaviour, 'good'>, string> = {
  'crash-on-start': '3.0.0',
  'crash-after-3s': '3.1.0',
  'wrong-version': '3.2.0',
  'never-healthy': '3.3.0',
  'ignore-sigterm': '3.4.0',
  'exit-78': '3.5.0',
  'refuse-start': '3.6.0',
};

/**
 * Releases that migrate a state file on first start, as openclaw 2026.9.6 does (schema 17 → 18), and refuse a
 * newer one: published under the `schema` tag. 4.2.0 migrates to 19, then never turns healthy; 4.3.0 migrates
 * to 19, then crashes at every start.
 */
export const SCHEMA_RELEASES = { old: '4.0.0', new: '4.1.0', broken: '4.2.0', crashing: '4.3.0' } as const;

// Publish order. gateway@1.0.0 pins dep@1.0.0, the version with a postinstall, so a test can see it ran.
const CATALOGUE: Fixture[] = [
  { kind: 'dep', tag: 'latest', spec: { version: '1.0.0', postinstall: true } },
  { kind: 'dep', tag: 'latest', spec: { version: '1.1.0', postinstall: false } },
  gateway('1.0.0', '1.0.0'),
  gateway('1.1.0', '^1.0.0'),
  // Its devDependency does not exist anywhere: npm install -g never resolves devDependencies, nor may we.
  gateway('1.2.0', '1.1.0', 'latest', { devDependencies: { 'rs-fixture-no-such-dev-dep': '^1.0.0' } }),
  gateway('2.0.0-beta.1', '^1.1.0', 'beta'),
  ...Object.entries(MATRIX).map(([behaviour, version]) =>
    gateway(version, '^1.1.0', 'matrix', { behaviour: behaviour as Behaviour }),
  ),
  // 4.1.0 last, so that the `schema` tag names the good newer one.
  gateway(SCHEMA_RELEASES.old, '^1.1.0', 'schema', { schema: 17 }),
  gateway(SCHEMA_RELEASES.broken, '^1.1.0', 'schema', { schema: 19, behaviour: 'never-healthy' }),
  gateway(SCHEMA_RELEASES.crashing, '^1.1.0', 'schema', { schema: 19, behaviour: 'crash-on-start' }),
  gateway(SCHEMA_RELEASES.new, '^1.1.0', 'schema', { schema: 18 }),
  {
    kind: 'gateway',
    tag: 'latest',
    spec: { name: 'rs-fixture-engines', version: '1.0.0', depRange: '1.0.0', engines: '>=99' },
  },
];

interface PackResult {
  name: string;
  version: string;
  filename: string;
  integrity: string;
  shasum: string;
}

/** Writes the fixture sources under `<dir>/src`, packs them into `<dir>/tarballs`, adds the bad tarballs. */
export async function buildFixtures(dir: string): Promise<FixtureSet> {
  const tarballDir = join(dir, 'tarballs');
  await mkdir(tarballDir, { recursive: true });
  const sourceDirs: string[] = [];
  const chunks: Array<string | undefined> = [];
  for (const fixture of CATALOGUE) {
    const name = fixture.kind === 'dep' ? 'rs-fixture-dep' : fixture.spec.name;
    const sourceDir = join(dir, 'src', `${name}-${fixture.spec.version}`);
    sourceDirs.push(sourceDir);
    if (fixture.kind === 'dep') {
      await writeDep(sourceDir, fixture.spec);
      chunks.push(undefined);
    } else {
      chunks.push(await writeGateway(sourceDir, fixture.spec));
    }
  }
  // One npm process packs them all: npm's start-up dominates the cost of packing.
  const { stdout } = await npm(['pack', ...sourceDirs, '--pack-destination', tarballDir, '--json'], {});
  const packed = JSON.parse(stdout) as PackResult[];
  const packages = packed.map((result, i): FixturePackage => {
    const chunk = chunks[i];
    return {
      name: result.name,
      version: result.version,
      spec: `${result.name}@${result.version}`,
      tarball: join(tarballDir, result.filename),
      tag: CATALOGUE[i]?.tag ?? 'latest',
      integrity: result.integrity,
      shasum: result.shasum,
      ...(chunk && { chunk }),
    };
  });
  const tarballs: Record<string, string> = Object.fromEntries(packages.map((p) => [p.spec, p.tarball]));
  const valid = tarballs['rs-fixture-gateway@1.0.0'];
  if (!valid) throw new Error('fixtures: rs-fixture-gateway@1.0.0 was not packed');
  Object.assign(tarballs, await writeBadTarballs(tarballDir, valid));
  return { tarballDir, tarballs, packages, distTags: distTagsAfterPublishing(packages) };
}

function distTagsAfterPublishing(packages: FixturePackage[]): FixtureSet['distTags'] {
  const tags: FixtureSet['distTags'] = {};
  for (const { name, version, tag } of packages) tags[name] = { ...tags[name], [tag]: version };
  return tags;
}
