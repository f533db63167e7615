/**
 * Whether a package folder holds everything its code loads by name: every dependency of every package in it, found
 * the way Node finds it (`node_modules/<name>`, walking up from the package's real folder), must lie inside the
 * folder. A pnpm, bun or yarn global install keeps its dependencies beside the package (a virtual store, a hoisted
 * global folder), so a copy of that folder alone cannot load (`Cannot find module`): such a copy is never a release.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export interface UnreachedDependency {
  /** The package that declares it, as a path inside the folder ('' for the top package). */
  from: string;
  name: string;
  /** `missing`: Node finds it nowhere; `outside`: Node finds it, but outside the folder (`at`). */
  why: 'missing' | 'outside';
  at?: string;
}

export interface DependencyReach {
  /** Packages reached from the top one, itself included. */
  packages: number;
  unreached: UnreachedDependency[];
}

async function readManifest(dir: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

const namesOf = (value: unknown): string[] =>
  value && typeof value === 'object' ? Object.keys(value as Record<string, unknown>) : [];

/** Node's lookup of a bare package name from `dir`: the first `node_modules/<name>` holding a package.json upwards. */
async function findPackage(dir: string, name: string): Promise<string | undefined> {
  for (let at = dir; ; at = path.dirname(at)) {
    const candidate = path.join(at, 'node_modules', name);
    const found = await fs.stat(path.join(candidate, 'package.json')).catch(() => undefined);
    if (found?.isFile()) return candidate;
    if (path.dirname(at) === at) return undefined;
  }
}

/**
 * Walk the dependency graph from `pkgDir` (`dependencies` must be found; `optionalDependencies` may be absent, as npm
 * leaves another platform's out, but when found must be inside too). Peer dependencies are not followed: npm leaves
 * them out under `legacy-peer-deps`, and what needs one names it in its own dependencies when it must have it.
 */
export async function dependencyReach(pkgDir: string): Promise<DependencyReach> {
  const top = await fs.realpath(pkgDir);
  const inside = (dir: string) => dir === top || dir.startsWith(top + path.sep);
  const seen = new Set<string>([top]);
  const queue = [top];
  const unreached: UnreachedDependency[] = [];
  while (queue.length > 0) {
    const batch = queue.splice(0, 64);
    await Promise.all(
      batch.map(async (dir) => {
        const manifest = await readManifest(dir);
        if (!manifest) return;
        const from = path.relative(top, dir);
        const wanted = [
          ...namesOf(manifest.dependencies).map((name) => ({ name, optional: false })),
          ...namesOf(manifest.optionalDependencies).map((name) => ({ name, optional: true })),
        ];
        for (const { name, optional } of wanted) {
          const found = await findPackage(dir, name);
          if (!found) {
            if (!optional) unreached.push({ from, name, why: 'missing' });
            continue;
          }
          const real = await fs.realpath(found);
          if (!inside(real)) {
            unreached.push({ from, name, why: 'outside', at: real });
            continue;
          }
          if (!seen.has(real)) {
            seen.add(real);
            queue.push(real);
          }
        }
      }),
    );
  }
  unreached.sort((a, b) => a.from.localeCompare(b.from) || a.name.localeCompare(b.name));
  return { packages: seen.size, unreached };
}

/** A few of them in words, for a message: `ws (needed by the package) is not inside it (/…/.pnpm/ws@8/…)`. */
export function describeUnreached(unreached: readonly UnreachedDependency[], limit = 5): string {
  const lines = unreached.slice(0, limit).map((u) => {
    const by = u.from === '' ? 'the package' : u.from;
    return u.why === 'missing'
      ? `${u.name} (needed by ${by}) is missing`
      : `${u.name} (needed by ${by}) is outside it, at ${u.at}`;
  });
  if (unreached.length > limit) lines.push(`…and ${unreached.length - limit} more`);
  return lines.join('; ');
}
