/**
 * OpenClaw's plugin downloads, moved before the stop. Its `update finalize` converges npm-installed plugins with the
 * gateway stopped, and "Downloads therefore count toward downtime" (docs/cli/update/how-updates-run.md); they come
 * from npm's cache when they are in it. So, while the old gateway still serves: the running release lists its plugins
 * (`plugins list --json`, which reads its own state), and npm fetches what finalize will install into the cache the
 * service's environment names, in a throwaway folder (no scripts, no peers: the plugin's `openclaw` peer is the core).
 *
 * Which version finalize picks is OpenClaw's policy; the guess here: an official `@openclaw/*` package follows the
 * target's release cohort (docs/cli/update/how-updates-run.md "Plugin sync details"), any other keeps its recorded
 * spec. A wrong guess or a failure costs a download and nothing else: finalize fetches what it needs itself.
 */
import { hasUrlCredentials } from '../../platform/npm-credentials.js';
import { type ListedPrefetch, type PrefetchResult, prefetchListed } from '../../service/package-prefetch.js';
import type { Extensions } from '../types.js';

/** OpenClaw's prefetch as one call: its list, the specs it implies, npm's fetch (the tests drive it whole). */
export interface PrefetchRequest extends ListedPrefetch {
  /** The version finalize converges official plugins to. */
  targetVersion: string;
}

/** The npm specs finalize will install, from `plugins list --json` of the running release. */
export function prefetchSpecs(list: unknown, targetVersion: string): string[] {
  const plugins = (list as { plugins?: unknown } | undefined)?.plugins;
  if (!Array.isArray(plugins)) return [];
  const specs = new Set<string>();
  for (const plugin of plugins as { trust?: { installSource?: unknown; installSpec?: unknown } }[]) {
    const spec = plugin?.trust?.installSpec;
    if (plugin?.trust?.installSource !== 'npm' || typeof spec !== 'string' || spec === '') continue;
    const name = nameOf(spec);
    if (!/^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i.test(name)) continue; // a path, a URL, a git spec: not npm's cache
    // A spec whose URL carries a user and password: never on npm's command line (any user reads that); finalize fetches it.
    if (hasUrlCredentials(spec.slice(name.length + 1))) continue;
    specs.add(name.startsWith('@openclaw/') ? `${name}@${targetVersion}` : spec);
  }
  return [...specs].sort();
}

/** Bundled and verified first-party plugins (`@openclaw/*` from its catalog): exempt from the capability review. */
export const OPENCLAW_EXEMPT = /^@openclaw\//;

/** OpenClaw's plugins as the preset's `finalize.extensions`: listed by `plugins list --json` of the running release. */
export const OPENCLAW_PLUGINS: Extensions = {
  list: ['dist/index.js', 'plugins', 'list', '--json'],
  prefetch: prefetchSpecs,
  reviewable: (list) => reviewablePlugins(list, OPENCLAW_EXEMPT),
};

/**
 * Install sources finalize updates from (a local folder or archive has no newer release to converge to: OpenClaw
 * keeps a linked path's plugin as it is, docs/cli/plugins/uninstall-and-update.md).
 */
const UPDATABLE_SOURCES: ReadonlySet<unknown> = new Set(['npm', 'clawhub', 'git', 'marketplace']);

/**
 * The plugins of `plugins list --json` installed from a source finalize updates from (npm, ClawHub, git, a
 * marketplace) whose package `exempt` does not name: those whose update can wait for the operator's capability
 * consent (their ids, sorted).
 */
export function reviewablePlugins(list: unknown, exempt: RegExp): string[] {
  const plugins = (list as { plugins?: unknown } | undefined)?.plugins;
  if (!Array.isArray(plugins)) return [];
  const ids = new Set<string>();
  for (const plugin of plugins as { id?: unknown; trust?: { installSource?: unknown; installSpec?: unknown } }[]) {
    const spec = plugin?.trust?.installSpec;
    if (typeof plugin?.id !== 'string' || typeof spec !== 'string' || spec === '') continue;
    if (!UPDATABLE_SOURCES.has(plugin.trust?.installSource)) continue;
    if (exempt.test(nameOf(spec.replace(/^(npm|clawhub):/, '')))) continue;
    ids.add(plugin.id);
  }
  return [...ids].sort();
}

/** `@scope/name@range` → `@scope/name`; `name@range` → `name`. */
function nameOf(spec: string): string {
  const at = spec.indexOf('@', spec.startsWith('@') ? 1 : 0);
  return at < 0 ? spec : spec.slice(0, at);
}

export function prefetchPlugins(request: PrefetchRequest): Promise<PrefetchResult> {
  return prefetchListed(request, (list) => prefetchSpecs(list, request.targetVersion));
}
