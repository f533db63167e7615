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
import path from 'node:path';
import { jsonDocumentIn, runCaptured, tail } from '../../platform/subprocess.js';
import { makeServiceNpmCachePrivate } from '../../platform/npm-cache.js';
import { hasUrlCredentials } from '../../platform/npm-credentials.js';
import { letAccountPass, removeHandedDir } from '../../platform/handed-dir.js';
import { type RunAs, makeDirFor } from '../../platform/run-as.js';

export interface PrefetchRequest {
  /** The service's Node. */
  node: string;
  /** npm to fetch with (an executable or npm-cli.js). */
  npm: string;
  /** The running release's folder and its `plugins list --json` inside it. */
  runningDir: string;
  listArgs: readonly string[];
  /** What that command printed, when the caller read it already (the capability review does): not run again. */
  list?: unknown;
  /** The version finalize converges official plugins to. */
  targetVersion: string;
  /** The service's environment: its state dir, its npm cache and registry. */
  env: NodeJS.ProcessEnv;
  /**
   * A private folder, removed afterwards: made for the account inside a folder of root's that its group may pass
   * through (`<root>/preflight`), when root acts for it (never under root's 0700 `staging/`, which it cannot reach).
   */
  workDir: string;
  timeoutMs: number;
  /** The account it runs as (the service's). @default this process's */
  as?: RunAs | undefined;

  signal?: AbortSignal | undefined;
}

export interface PrefetchResult {
  /** The specs fetched into npm's cache (none: no npm-installed plugin). */
  specs: string[];
  ok: boolean;
  ms: number;
  detail?: string;
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

/** The running release's `plugins list --json` (undefined and what it said when it could not be read). */
export async function listPlugins(request: {
  node: string;
  runningDir: string;
  listArgs: readonly string[];
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  as?: RunAs | undefined;
  signal?: AbortSignal | undefined;
}): Promise<{ list: unknown; detail?: string }> {
  const [entry, ...rest] = request.listArgs;
  const listed = await runCaptured(request.node, [path.join(request.runningDir, entry!), ...rest], {
    env: request.env,
    timeoutMs: request.timeoutMs,
    signal: request.signal,
    as: request.as,
    cwd: request.runningDir,
  });
  const list = listed.failed ? undefined : jsonDocumentIn(listed.output);
  return list ? { list } : { list: undefined, detail: `plugins list: ${tail(listed.output, 5)}` };
}

/** `@scope/name@range` → `@scope/name`; `name@range` → `name`. */
function nameOf(spec: string): string {
  const at = spec.indexOf('@', spec.startsWith('@') ? 1 : 0);
  return at < 0 ? spec : spec.slice(0, at);
}

export async function prefetchPlugins(request: PrefetchRequest): Promise<PrefetchResult> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  const options = { env: request.env, timeoutMs: request.timeoutMs, signal: request.signal, as: request.as };
  const { list, detail } =
    request.list !== undefined ? { list: request.list, detail: undefined } : await listPlugins(request);
  if (!list) return { specs: [], ok: false, ms: ms(), detail };
  const specs = prefetchSpecs(list, request.targetVersion);
  if (specs.length === 0) return { specs, ok: true, ms: ms() };
  await makeDirFor(request.workDir, request.as); // npm writes there, as the service's account
  await letAccountPass(path.dirname(request.workDir), request.as); // root's <root>/preflight: passable to it, no more
  await makeServiceNpmCachePrivate(request.env, request.as);
  try {
    const [command, prefix] = request.npm.endsWith('.js') ? [request.node, [request.npm]] : [request.npm, []];
    const fetched = await runCaptured(
      command,
      [
        ...prefix,
        'install',
        '--prefix',
        request.workDir,
        '--no-save',
        '--no-package-lock',
        '--ignore-scripts',
        '--legacy-peer-deps',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        ...specs,
      ],
      { ...options, cwd: request.workDir },
    );
    return fetched.failed
      ? { specs, ok: false, ms: ms(), detail: `npm: ${tail(fetched.output, 5)}` }
      : { specs, ok: true, ms: ms() };
  } finally {
    await removeHandedDir(request.workDir); // what npm left, removed by the account: root follows none of its links
  }
}
