/**
 * The smoke check of a staged release, before it is sealed: the configured command (e.g.
 * `server.js --version`) run with the configured Node, or else a syntax check of the entry points
 * (main and bin files) that runs none of the package's code.
 */
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import { pathExists } from '../platform/fs.js';
import { run, tail } from '../platform/subprocess.js';
import { type NodeRuntime, envWithNode } from '../platform/node.js';

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
    const result = await run(options.node.path, options.command, {
      cwd: pkgDir,
      env,
      signal,
      timeoutMs: SMOKE_TIMEOUT_MS,
    });
    if (result.exitCode !== 0) throw smokeFailed(`node ${options.command.join(' ')}`, result.output);
    return `node ${options.command.join(' ')}: ${tail(result.output, 1)}`;
  }
  const checked: string[] = [];
  for (const entry of entryPoints(pkg)) {
    const file = path.join(pkgDir, entry);
    const candidates = [file, `${file}.js`, path.join(file, 'index.js')];
    const found = (await Promise.all(candidates.map(pathExists))).findIndex(Boolean);
    if (found < 0) throw smokeFailed(`entry point ${entry}`, 'the file does not exist');
    const target = candidates[found]!;
    if (!/\.(c|m)?js$/.test(target) && found === 0) continue; // a native or shell bin: nothing to syntax-check
    const result = await run(options.node.path, ['--check', target], {
      cwd: pkgDir,
      env,
      signal,
      timeoutMs: SMOKE_TIMEOUT_MS,
    });
    if (result.exitCode !== 0) throw smokeFailed(`node --check ${entry}`, result.output);
    checked.push(entry);
  }
  return checked.length ? `syntax ok: ${checked.join(', ')}` : 'no entry points to check';
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
