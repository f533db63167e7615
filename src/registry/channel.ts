/**
 * Release channels as OpenClaw defines them (docs/install/development-channels.md) and npm publishes them (dist-tags):
 * stable is `latest`; beta is the newer of `beta` and `latest` (an older beta never replaces a newer stable);
 * extended-stable is the `extended-stable` tag's exact version, with no fallback (OpenClaw fails closed).
 */
import '../registry/lazy-pacote.js';
import pacote from 'pacote';
import semver from 'semver';
import { ReleaseSwitcherError } from '../model/errors.js';
import type { ResolvedRuntime } from '../model/runtime.js';
import type { Channel, Config } from '../store/config.js';
import { fetchError, pacoteOptions } from './fetch.js';
import { withNetworkDeadline } from './network.js';

/** The dist-tags a channel reads, in words (for reasons and errors). */
export function channelTags(channel: Channel): string {
  return channel === 'beta' ? 'beta or latest' : channel === 'extended-stable' ? 'extended-stable' : 'latest';
}

/** The channel's version among `tags`, null when the tags it reads are missing or not versions. */
export function channelVersion(tags: Readonly<Record<string, unknown>>, channel: Channel): string | null {
  const names =
    channel === 'beta' ? ['beta', 'latest'] : channel === 'extended-stable' ? ['extended-stable'] : ['latest'];
  const versions = names
    .map((name) => tags[name])
    .filter((v): v is string => typeof v === 'string' && semver.valid(v) !== null);
  return versions.sort(semver.rcompare)[0] ?? null;
}

/**
 * The npm spec an update on `channel` installs: `<package>@latest` for stable (resolved by the install as any tag);
 * for beta and extended-stable the exact version the dist-tags give (read afresh: a cached packument would hide a
 * moved tag). A channel with no version on the registry is refused, never replaced by another channel's.
 */
export async function channelSpec(config: Config, runtime: ResolvedRuntime, channel: Channel): Promise<string> {
  if (channel === 'stable') return `${config.package}@latest`;
  let tags: Record<string, unknown>;
  try {
    tags = (
      await withNetworkDeadline(
        { npmConfig: runtime.npmConfig, signal: runtime.signal, what: `the dist-tags of ${config.package}` },
        (signal) => pacote.packument(config.package, pacoteOptions(config, runtime, { preferOnline: true, signal })),
      )
    )['dist-tags'];
  } catch (error) {
    throw fetchError(error, config.package);
  }
  const version = channelVersion(tags, channel);
  if (version) return `${config.package}@${version}`;
  throw new ReleaseSwitcherError(
    'VERSION_NOT_FOUND',
    `The ${channel} channel has no version of ${config.package}: the registry has no ${channelTags(channel)} dist-tag.`,
    {
      hint: `Name a version (release-switcher update ${config.package}@VERSION), or follow another channel (--channel stable).`,
      details: { channel, distTags: tags },
    },
  );
}
