/** The Node that runs the service: found, run once for its version, checked against engines.node. */
import path from 'node:path';
import semver from 'semver';
import { ReleaseSwitcherError, isReleaseSwitcherError } from '../model/errors.js';
import { runCaptured } from './subprocess.js';

export interface NodeRuntime {
  path: string;
  version: string;
}

/** A Node version's major (`v24.1.0` or `24.1.0` → `24`): what native builds and engine picks follow. */
export function nodeMajor(version: string): string {
  return version.replace(/^v/, '').split('.')[0] ?? version;
}

export async function probeNode(nodePath: string, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<NodeRuntime> {
  const resolved = path.resolve(nodePath);
  // Our own Node runs, and its version is known: no process started to ask it.
  if (resolved === process.execPath) return { path: resolved, version: process.versions.node };
  const result = await runCaptured(resolved, ['-p', 'process.versions.node'], { env, timeoutMs: 30_000, signal }).catch(
    (error: unknown) => {
      if (isReleaseSwitcherError(error)) throw error; // CANCELLED
      return {
        exitCode: undefined,
        output: String(error),
        failed: true,
        timedOut: false,
      };
    },
  );
  const version = result.output.trim().split('\n').at(-1) ?? '';
  if (result.exitCode !== 0 || !semver.valid(version)) {
    throw new ReleaseSwitcherError(
      'NODE_NOT_FOUND',
      `The configured Node (${resolved}) does not run: ${result.output.trim().slice(0, 200) || 'no output'}.`,
      {
        hint: 'Point --node at a working node binary: release-switcher init --node /path/to/node',
      },
    );
  }
  return { path: resolved, version };
}

/** Refuse a package whose engines.node excludes the Node it would run on, before anything of it runs. */
export function checkEngines(pkg: { name?: string; version?: string; engines?: unknown }, node: NodeRuntime): void {
  const range = (pkg.engines as Record<string, unknown> | undefined)?.node;
  if (typeof range !== 'string' || range.trim() === '') return;
  if (!semver.validRange(range)) return; // npm ignores ranges it cannot read; so do we
  if (semver.satisfies(node.version, range, { includePrerelease: true })) return;
  throw new ReleaseSwitcherError(
    'ENGINE_MISMATCH',
    `${pkg.name}@${pkg.version} requires Node ${range}, but the configured Node (${node.path}) is ${node.version}.`,
    {
      hint: 'Install a matching Node and point at it: release-switcher init --node /path/to/node',
      details: { required: range, actual: node.version },
    },
  );
}

/** An environment for subprocesses in which `node` is the configured Node. */
export function envWithNode(env: NodeJS.ProcessEnv, node: NodeRuntime): NodeJS.ProcessEnv {
  const dir = path.dirname(node.path);
  return {
    ...env,
    PATH: [dir, env.PATH ?? '/usr/local/bin:/usr/bin:/bin'].join(path.delimiter),
    npm_node_execpath: node.path,
    NODE: node.path,
  };
}

/** The first Node satisfying `range`: the preferred one, the one running us, then each `node` on PATH. */
export async function findNode(options: {
  range: string;
  env: NodeJS.ProcessEnv;
  execPath: string;
  /** Who needs it (a preset, a package), for the message. */
  why: string;
  /** Nodes to try first, in order. */
  preferred?: string | string[];
}): Promise<string> {
  const { range, env, why } = options;
  const onPath = (env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => path.join(dir, 'node'));
  const seen: string[] = [];
  const first = [options.preferred ?? []].flat();
  for (const candidate of [...new Set([...first, options.execPath, ...onPath])]) {
    const node = await probeNode(candidate, env).catch(() => undefined);
    if (!node) continue;
    if (semver.satisfies(node.version, range)) return node.path;
    seen.push(`${node.path} (${node.version})`);
  }
  throw new ReleaseSwitcherError(
    'NODE_NOT_FOUND',
    `${why} needs Node ${range}; found ${seen.join(', ') || 'no node at all'}.`,
    {
      hint: `Install a Node ${range} and name it: release-switcher init --node /path/to/bin/node`,
    },
  );
}
