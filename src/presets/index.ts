/**
 * The presets release-switcher knows, by name, and what the layers ask of them: `init --preset NAME` writes a preset's
 * settings (`withPreset`), and a root's preset (`servicePreset`) tells each layer the facts of its service through the
 * fields of types.ts. A preset is a folder here; adding one touches only this list.
 */
import type { StartedWhen } from '../model/started-when.js';
import { ReleaseSwitcherError } from '../model/errors.js';
import type { Config, Settings } from '../store/config.js';
import { NODE_HTTP } from './node-http/index.js';
import { OPENCLAW } from './openclaw/index.js';
import type { PortSources, Preset } from './types.js';

export type { Preset, PortSources, ServiceSetting, ConfigLocator } from './types.js';

export const PRESETS: Readonly<Record<string, Preset>> = {
  openclaw: OPENCLAW,
  'node-http': NODE_HTTP,
};

/**
 * The preset whose service a root runs: its `preset`, else its package's name (an openclaw root made without the preset
 * still runs openclaw), or undefined for none (a package named like an Object method included).
 */
export function servicePreset(config: Pick<Config, 'preset' | 'package'>): Preset | undefined {
  const name = config.preset ?? config.package;
  return Object.hasOwn(PRESETS, name) ? PRESETS[name] : undefined;
}

/**
 * Where the root's service takes its port from: its preset's sources, else `--port N` and the usual variables (an
 * unknown package adopted from a unit like OpenClaw's gateway's is read as before presets had a folder).
 */
export function portSourcesOf(config: Pick<Config, 'preset' | 'package'>): PortSources {
  return servicePreset(config)?.port ?? { flag: '--port', env: ['OPENCLAW_GATEWAY_PORT', 'PORT'] };
}

/**
 * What a healthy answer of the root's health URL must say besides its version, or undefined: only where the URL is the
 * endpoint its preset's contract names.
 */
export function startedWhenFor(config: Pick<Config, 'preset' | 'package' | 'healthUrl'>): StartedWhen | undefined {
  const contract = servicePreset(config)?.startedWhen;
  if (!contract || !config.healthUrl) return undefined;
  let pathname: string;
  try {
    pathname = new URL(config.healthUrl).pathname;
  } catch {
    return undefined;
  }
  return pathname === contract.path ? { field: contract.field, value: contract.value } : undefined;
}

export function presetOf(name: string): Preset {
  const preset = Object.hasOwn(PRESETS, name) ? PRESETS[name] : undefined;
  if (!preset)
    throw new ReleaseSwitcherError('USAGE', `There is no preset "${name}".`, {
      hint: `Presets: ${Object.keys(PRESETS).join(', ')}`,
    });
  return preset;
}

/**
 * The settings to write: the preset's, then those given explicitly (which win). A preset that needs
 * a particular Node finds one when none is given or configured.
 */
export interface WithPresetOptions {
  name: string;
  /** Settings given explicitly; they win over the preset's. */
  explicit: Settings;
  /** The root's config as it is, if any. */
  configured: { node: string | null; preset?: string | null } | undefined;
  /** Where to look for a Node (`PATH`). */
  env: NodeJS.ProcessEnv;
  /** The Node running us: the first candidate. */
  execPath: string;
  /** A Node to try before all others, given the merged settings (adopt: the one the service's unit runs). */
  preferred?: ((settings: Settings) => Promise<string | undefined>) | undefined;
}

export async function withPreset(options: WithPresetOptions): Promise<Settings> {
  const { name, explicit, configured, env, execPath } = options;
  const preset = presetOf(name);
  const defined = Object.fromEntries(Object.entries(explicit).filter(([, value]) => value !== undefined)) as Settings;
  // A root already made with this preset keeps what it has (a health URL adopt set to the service's real port,
  // for one): running `init --preset` again must not put the preset's defaults back.
  const base = configured?.preset === name ? {} : preset.settings;
  const settings: Settings = { ...base, ...defined, preset: name };
  if (preset.node && !settings.node && !configured?.node) {
    const preferred = await options.preferred?.(settings);
    // lazy: the Node probe and semver, which only `init --preset` needs (a switch reads the presets at start-up)
    const { findNode } = await import('../platform/node.js');
    settings.node = await findNode({
      range: preset.node,
      env,
      execPath,
      why: name,
      ...(preferred ? { preferred } : {}),
    });
  }
  return settings;
}
