/**
 * Packages a target's finalize would download with the service stopped, fetched into npm's cache while the old
 * release still serves: the running release lists the service's add-ons (a command inside it, JSON out: the
 * preset's `finalize.extensions`), the preset says which npm specs finalize will install from that list, and npm
 * fetches them into the cache the service's environment names, in a throwaway folder (no scripts, no peers). A wrong
 * guess or a failure costs a download and nothing else: finalize fetches what it needs itself.
 */
import path from 'node:path';
import { jsonDocumentIn, runCaptured, tail } from '../platform/subprocess.js';
import { makeServiceNpmCachePrivate } from '../platform/npm-cache.js';
import { letAccountPass, removeHandedDir } from '../platform/handed-dir.js';
import { type RunAs, makeDirFor } from '../platform/run-as.js';

export interface PrefetchResult {
  /** The specs fetched into npm's cache (none: no npm-installed plugin). */
  specs: string[];
  ok: boolean;
  ms: number;
  detail?: string;
}

/** The running release's list of the service's add-ons (undefined and what it said when it could not be read). */
export async function listExtensions(request: {
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
  return list ? { list } : { list: undefined, detail: `${entry} ${rest.join(' ')}: ${tail(listed.output, 5)}` };
}

/** What `fetchIntoCache` needs: the service's Node, npm and environment, and a folder to throw away. */
export interface CacheFetch {
  /** The service's Node. */
  node: string;
  /** npm to fetch with (an executable or npm-cli.js). */
  npm: string;
  /** The service's environment: its npm cache and registry. */
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

/** What `prefetchListed` needs besides the fetch: the running release, its list command, or its list read already. */
export interface ListedPrefetch extends CacheFetch {
  runningDir: string;
  listArgs: readonly string[];
  /** What the list command printed, when the caller read it already (the capability review does): not run again. */
  list?: unknown;
}

/** The running release lists the add-ons, `specsOf` says what finalize will install, npm fetches that. */
export async function prefetchListed(
  request: ListedPrefetch,
  specsOf: (list: unknown) => string[],
): Promise<PrefetchResult> {
  const started = performance.now();
  const { list, detail } =
    request.list !== undefined ? { list: request.list, detail: undefined } : await listExtensions(request);
  if (!list) return { specs: [], ok: false, ms: Math.round(performance.now() - started), detail };
  return fetchIntoCache(request, specsOf(list), started);
}

/** npm fetches `specs` into the service's cache, as the service's account; never throws for npm's own failure. */
async function fetchIntoCache(request: CacheFetch, specs: string[], started: number): Promise<PrefetchResult> {
  const ms = () => Math.round(performance.now() - started);
  const options = { env: request.env, timeoutMs: request.timeoutMs, signal: request.signal, as: request.as };
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
