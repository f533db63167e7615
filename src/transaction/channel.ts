/**
 * Which channel an update without a version follows, and where that was decided: `--channel` for this update, else
 * config.json's `channel`, else the service's own setting where its preset reads one (openclaw: `update.channel` in
 * its openclaw.json, found in the service's environment as the gateway finds it), else stable. A channel the preset
 * names as no package's (OpenClaw's `dev`, a git-checkout flow) is refused with its reason, never read as another.
 */
import { ReleaseSwitcherError } from '../model/errors.js';
import { fetchPackument } from '../registry/fetch.js';
import { channelTags, channelVersion } from '../registry/dist-tags.js';
import type { ResolvedRuntime } from '../model/runtime.js';
import { CHANNELS, type Channel, type Config } from '../store/config.js';
import { servicePreset } from '../presets/index.js';
import type { Session } from '../store/session.js';
import { serviceIdentity } from './service-identity.js';

export interface ChannelChoice {
  channel: Channel;
  /** `--channel`, `config.json channel`, `<file> update.channel`, or `the default`. */
  from: string;
}

/** The channel `update` follows now (see the module's comment); `option` is the caller's `--channel`. */
export async function chooseChannel(
  session: Pick<Session, 'config' | 'runtime'>,
  option?: string,
): Promise<ChannelChoice> {
  const setting = servicePreset(session.config)?.channelSetting;
  const unsupported = setting?.unsupported ?? {};
  if (option !== undefined) return { channel: channelNamed(option, '--channel', unsupported), from: '--channel' };
  if (session.config.channel) return { channel: session.config.channel, from: 'config.json channel' };
  if (setting) {
    const { env } = await serviceIdentity(session);
    // lazy: it brings a JSON5 reader, which an update that names its version or channel never needs
    const { serviceSetting } = await import('../unit-files/service-port.js');
    const found = await serviceSetting(setting.file, setting.key, env);
    if (found && found.value !== null && found.value !== '')
      return { channel: channelNamed(found.value, found.from, unsupported), from: found.from };
  }
  return { channel: 'stable', from: 'the default' };
}

/** The spec an update without a version installs: the chosen channel's. */
export async function channelUpdateSpec(
  session: Pick<Session, 'config' | 'runtime'>,
  option?: string,
): Promise<{ spec: string; choice: ChannelChoice }> {
  const choice = await chooseChannel(session, option);
  return { spec: await channelSpec(session.config, session.runtime, choice.channel), choice };
}

function channelNamed(value: unknown, from: string, unsupported: Readonly<Record<string, string>>): Channel {
  if (typeof value === 'string' && (CHANNELS as readonly string[]).includes(value)) return value as Channel;
  if (typeof value === 'string' && Object.hasOwn(unsupported, value))
    throw new ReleaseSwitcherError(
      'CHANNEL_UNSUPPORTED',
      `The ${value} channel (${from}) is ${unsupported[value]}: not a package release-switcher can stage.`,
      {
        hint: 'Follow stable, beta or extended-stable (release-switcher update --channel beta, or release-switcher init --channel beta), or name a version: release-switcher update VERSION.',
        details: { channel: value, from },
      },
    );
  throw new ReleaseSwitcherError('CHANNEL_UNSUPPORTED', `Unknown update channel ${JSON.stringify(value)} (${from}).`, {
    hint: `Channels: ${CHANNELS.join(', ')}.`,
    details: { channel: value, from },
  });
}

/**
 * The npm spec an update on `channel` installs: `<package>@latest` for stable (resolved by the install as any tag);
 * for beta and extended-stable the exact version the dist-tags give, read afresh. A channel with no version on the
 * registry is refused, never replaced by another channel's.
 */
async function channelSpec(config: Config, runtime: ResolvedRuntime, channel: Channel): Promise<string> {
  if (channel === 'stable') return `${config.package}@latest`;
  const tags = (await fetchPackument(config, runtime))['dist-tags'];
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
