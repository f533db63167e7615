/**
 * The production dependency closure of the installation, and where each package goes in the copy. Found by Node's own
 * resolution (a `node_modules/<name>` in the dependent's real folder or above), from the package's real path. A package
 * inside the installation keeps its relative place (npm's nesting and hoisting); one outside it (pnpm's layout: the
 * package is a link into `.pnpm/<name>@<v>/node_modules/<name>`, its dependencies are siblings there) is hoisted to the
 * copy's top `node_modules`, or nested under its dependent when that name is taken. Then every dependency is resolved
 * again inside the copy's layout: it must reach the very package it reached in the installation.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';

export interface Placed {
  /** The package's real folder in the installation. */
  from: string;
  /** Its folder in the copy, relative to the copy's package folder ('' is the tool itself). */
  to: string;
}

interface Manifest {
  name?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

async function manifestOf(dir: string): Promise<Manifest> {
  return JSON.parse(await fs.readFile(path.join(dir, 'package.json'), 'utf8')) as Manifest;
}

/** The real folder `name` resolves to from `dir` (Node's lookup: node_modules of dir and each parent). */
async function resolveFrom(dir: string, name: string): Promise<string | undefined> {
  for (let at = dir; ; at = path.dirname(at)) {
    if (path.basename(at) !== 'node_modules') {
      const candidate = path.join(at, 'node_modules', name);
      const real = await fs.realpath(candidate).catch(() => undefined);
      if (real && (await fs.stat(path.join(real, 'package.json')).catch(() => undefined))) return real;
    }
    if (at === path.dirname(at)) return undefined;
  }
}

/** What `name` resolves to from `to` inside the copy's layout (by the places chosen so far). */
function resolveInCopy(byPlace: Map<string, string>, to: string, name: string): string | undefined {
  for (let at = to; ; at = path.dirname(at)) {
    const dir = at === '.' ? '' : at;
    if (path.basename(dir) !== 'node_modules') {
      const found = byPlace.get(path.join(dir, 'node_modules', name));
      if (found) return found;
    }
    if (dir === '') return undefined;
  }
}

const dependenciesOf = (m: Manifest) => [
  ...Object.keys(m.dependencies ?? {}).map((name) => ({ name, optional: false })),
  ...Object.keys(m.optionalDependencies ?? {}).map((name) => ({ name, optional: true })),
];

export async function dependencyClosure(packageRoot: string): Promise<Placed[]> {
  const root = await fs.realpath(packageRoot);
  const placed = new Map<string, string>([[root, '']]); // real folder -> place
  const byPlace = new Map<string, string>([['', root]]); // place -> real folder
  const edges: Array<{ from: string; name: string; real: string }> = [];
  const queue = [root];
  while (queue.length > 0) {
    const dir = queue.shift()!;
    for (const { name, optional } of dependenciesOf(await manifestOf(dir))) {
      const real = await resolveFrom(dir, name);
      if (!real) {
        if (optional) continue; // an optional dependency npm left out (another platform)
        throw new ReleaseSwitcherError(
          'UNSUPPORTED',
          `release-switcher's dependency ${name} cannot be found from ${dir}.`,
          {
            hint: 'Reinstall release-switcher (npm install -g release-switcher), then run the command again.',
          },
        );
      }
      edges.push({ from: dir, name, real });
      if (placed.has(real)) continue;
      const inside = path.relative(root, real);
      const top = path.join('node_modules', name);
      const to =
        !inside.startsWith('..') && !path.isAbsolute(inside)
          ? inside
          : !byPlace.has(top)
            ? top
            : path.join(placed.get(dir)!, 'node_modules', name);
      if (byPlace.has(to)) throw misplaced(name, to);
      placed.set(real, to);
      byPlace.set(to, real);
      queue.push(real);
    }
  }
  for (const edge of edges)
    if (resolveInCopy(byPlace, placed.get(edge.from)!, edge.name) !== edge.real)
      throw misplaced(edge.name, placed.get(edge.real)!);
  return [...placed].map(([from, to]) => ({ from, to }));
}

function misplaced(name: string, to: string): ReleaseSwitcherError {
  return new ReleaseSwitcherError(
    'UNSUPPORTED',
    `release-switcher's dependency ${name} cannot be placed in its pinned copy (${to}) so that Node finds the same package.`,
    { hint: 'Reinstall release-switcher with npm (npm install -g release-switcher), then run the command again.' },
  );
}
