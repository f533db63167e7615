/**
 * Release channels as OpenClaw defines them (docs/install/development-channels.md) and npm publishes them (dist-tags):
 * stable is `latest`; beta is the newer of `beta` and `latest` (an older beta never replaces a newer stable);
 * extended-stable is the `extended-stable` tag's exact version, with no fallback (OpenClaw fails closed). Pure: the
 * auto-updater's policy and the spec of a bare package name read it without loading a registry client.
 */
import semver from 'semver';
import type { Channel } from '../store/config.js';

/** The dist-tags each channel reads; its version is the newest of them. */
const CHANNEL_TAGS: Readonly<Record<Channel, readonly string[]>> = {
  stable: ['latest'],
  beta: ['beta', 'latest'],
  'extended-stable': ['extended-stable'],
};

/** The tag a bare package name means on `channel` (its first). */
export function channelTag(channel: Channel): string {
  return CHANNEL_TAGS[channel][0]!;
}

/** The dist-tags a channel reads, in words (for reasons and errors). */
export function channelTags(channel: Channel): string {
  return CHANNEL_TAGS[channel].join(' or ');
}

/** The channel's version among `tags`, null when the tags it reads are missing or not versions. */
export function channelVersion(tags: Readonly<Record<string, unknown>>, channel: Channel): string | null {
  const versions = CHANNEL_TAGS[channel]
    .map((name) => tags[name])
    .filter((v): v is string => typeof v === 'string' && semver.valid(v) !== null);
  return versions.sort(semver.rcompare)[0] ?? null;
}
