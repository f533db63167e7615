/**
 * The smoke check of a staged release, before it is sealed: the configured command (e.g.
 * `server.js --version`) run with the configured Node, or else a syntax check of the entry points
 * (main and bin files) that runs none of the package's code; and, either way, whether what the
 * release's code loads by name is inside it (every dependency, dependency-reach.ts).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import { pathExists } from '../platform/fs.js';
import { runCaptured, tail } from '../platform/subprocess.js';
import { type NodeRuntime, envWithNode } from '../platform/node.js';
import { dependencyReach, describeUnreached } from './dependency-reach.js';

const SMOKE_TIMEOUT_MS = 120_000;

export function entryPoints(pkg: Record<string, unknown>): string[] {
  const entries = new Set<string>();
  if (typeof pkg.main === 'string') entries.add(pkg.main);
  if (typeof pkg.bin === 'string') entries.add(pkg.bin);
  else if (pkg.bin && typeof pkg.bin === 'object')
    for (const file of Object.values(pkg.bin)) if (typeof file === 'string') entries.add(file);
  return [...entries];
}

export async function smokeCheck(
  pkgDir: string,
  pkg: Record<string, unknown>,
  options: { node: NodeRuntime; env: NodeJS.ProcessEnv; command: string[] | null; signal?: AbortSignal | undefined },
): Promise<string> {
  const env = envWithNode(options.env, options.node);
  const { signal } = options; // aborting ends the check's process group: a server the command started too
  if (options.command) {
    const result = await runCaptured(options.node.path, options.command, {
      cwd: pkgDir,
      env,
      signal,
      timeoutMs: SMOKE_TIMEOUT_MS,
    });
    if (result.exitCode !== 0) throw smokeFailed(`node ${options.command.join(' ')}`, result.output);
    return `node ${options.command.join(' ')}: ${tail(result.output, 1)}`;
  }
  // Each entry point is checked by a Node of its own: all at once (openclaw has two), reported in order.
  const outcomes = await Promise.all(entryPoints(pkg).map((entry) => checkEntry(pkgDir, entry, { ...options, env })));
  const checked = outcomes.filter((entry): entry is string => entry !== undefined);
  return checked.length ? `syntax ok: ${checked.join(', ')}` : 'no entry points to check';
}

/**
 * Every dependency of every package of the release is inside it; throws SMOKE_FAILED naming those that are not. Run on
 * the complete tree (after the dependencies are placed), whatever the smoke command.
 */
export async function reachCheck(pkgDir: string): Promise<string> {
  const reach = await dependencyReach(pkgDir);
  if (reach.unreached.length > 0)
    throw smokeFailed(
      'its dependencies',
      `${reach.unreached.length} cannot be loaded from inside the release: ${describeUnreached(reach.unreached)}`,
    );
  return `${reach.packages} packages reachable inside the release`;
}

/**
 * What a syntax check's outcome depends on besides the Node: each entry point's candidates (their inode
 * state and bytes, or absence; the link and what it leads to) and the package.json files from its folder
 * up to the package root (they set the parse goal). Equal before and after the scripts ran: a check started
 * before them read what is there now.
 */
export async function syntaxInputs(pkgDir: string, pkg: Record<string, unknown>): Promise<string> {
  const files = new Set<string>();
  for (const entry of entryPoints(pkg)) {
    const file = path.join(pkgDir, entry);
    files.add(file).add(`${file}.js`).add(path.join(file, 'index.js')).add(path.join(file, 'package.json'));
    for (let dir = path.dirname(file); dir === pkgDir || dir.startsWith(pkgDir + path.sep); dir = path.dirname(dir))
      files.add(path.join(dir, 'package.json'));
  }
  const state = async (file: string) => {
    const [own, target] = await Promise.all([
      fs.lstat(file, { bigint: true }).catch(() => undefined),
      fs.stat(file, { bigint: true }).catch(() => undefined),
    ]);
    const of = (s: typeof own) => (s ? `${s.dev}:${s.ino}:${s.mode}:${s.size}:${s.ctimeNs}` : '-');
    // The bytes too: a rewrite in the same clock tick as the unpack leaves the ctime as it was.
    const bytes = target?.isFile() ? await fs.readFile(file).catch(() => undefined) : undefined;
    return `${file} ${of(own)} ${of(target)} ${bytes ? createHash('sha256').update(bytes).digest('hex') : '-'}`;
  };
  return (await Promise.all([...files].map(state))).join('\n');
}

/**
 * The syntax check started early (right after the unpack, beside the resolution), its inputs taken
 * before it reads them. `settle` gives its outcome if they are unchanged by then, else checks again.
 */
export async function earlySyntaxCheck(
  pkgDir: string,
  pkg: Record<string, unknown>,
  options: { node: NodeRuntime; env: NodeJS.ProcessEnv; signal?: AbortSignal | undefined },
): Promise<{ settle: () => Promise<string> }> {
  const inputs = await syntaxInputs(pkgDir, pkg);
  const outcome = smokeCheck(pkgDir, pkg, { ...options, command: null });
  outcome.catch(() => undefined);
  return {
    settle: async () =>
      (await syntaxInputs(pkgDir, pkg)) === inputs ? outcome : smokeCheck(pkgDir, pkg, { ...options, command: null }),
  };
}

/** The entry point if it was syntax-checked, undefined if it is not JavaScript; throws SMOKE_FAILED. */
async function checkEntry(
  pkgDir: string,
  entry: string,
  options: { node: NodeRuntime; env: NodeJS.ProcessEnv; signal?: AbortSignal | undefined },
): Promise<string | undefined> {
  const file = path.join(pkgDir, entry);
  const candidates = [file, `${file}.js`, path.join(file, 'index.js')];
  const found = (await Promise.all(candidates.map(pathExists))).findIndex(Boolean);
  if (found < 0) throw smokeFailed(`entry point ${entry}`, 'the file does not exist');
  const target = candidates[found]!;
  if (!/\.(c|m)?js$/.test(target) && found === 0) return undefined; // a native or shell bin: nothing to syntax-check
  const result = await runCaptured(options.node.path, ['--check', target], {
    cwd: pkgDir,
    env: options.env,
    signal: options.signal,
    timeoutMs: SMOKE_TIMEOUT_MS,
  });
  if (result.exitCode !== 0) throw smokeFailed(`node --check ${entry}`, result.output);
  return entry;
}

function smokeFailed(what: string, output: string): ReleaseSwitcherError {
  return new ReleaseSwitcherError(
    'SMOKE_FAILED',
    `The staged release failed its smoke check (${what}):\n${tail(output)}`,
    {
      hint: 'Nothing was changed. The package is broken for the configured Node, or the smoke command is wrong (init --smoke).',
    },
  );
}
