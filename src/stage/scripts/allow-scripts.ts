/**
 * npm 11's install-script policy as `npm install -g` applies it (npm's config docs: `allow-scripts`,
 * `strict-allow-scripts`, `dangerously-allow-all-scripts`; arborist's script-allowed.js). In global
 * mode the policy is the `allow-scripts` list (names, or `name@1.2.3||1.2.4`): it only allows. By
 * default a package whose install scripts the list does not cover still runs them (npm prints a
 * notice); with `strict-allow-scripts` npm refuses the whole install before anything runs, unless
 * `ignore-scripts` (nothing runs) or `dangerously-allow-all-scripts` (everything runs) overrides it.
 * A package is named by its registry identity (the tarball URL), not by what its package.json says.
 */
import { ReleaseSwitcherError } from '../../model/errors.js';
import type { ResolvedTree, TreeNode } from '../resolve/resolve-tree.js';

const INSTALL_EVENTS = ['preinstall', 'install', 'postinstall'];

/** Throws as npm would refuse the install; returns the packages whose scripts the policy does not cover. */
export function checkAllowScripts(
  tree: ResolvedTree,
  rootScripts: Record<string, unknown> | undefined,
  npmConfig: Record<string, string>,
): string[] {
  if (npmConfig['ignore-scripts'] === 'true' || npmConfig['dangerously-allow-all-scripts'] === 'true') return [];
  const allowed = (npmConfig['allow-scripts'] ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  const rootHas = INSTALL_EVENTS.some((event) => typeof rootScripts?.[event] === 'string');
  const candidates = [...(rootHas ? [tree.root] : []), ...tree.deps.filter((node) => node.hasInstallScript)];
  const uncovered = candidates
    .filter((node) => !allowed.some((entry) => covers(entry, registryIdentity(node), node.version)))
    .map((node) => `${registryIdentity(node)}@${node.version}`);
  if (uncovered.length > 0 && npmConfig['strict-allow-scripts'] === 'true') {
    throw new ReleaseSwitcherError(
      'DEPENDENCY_INSTALL_FAILED',
      `strict-allow-scripts is set and these packages have install scripts that allow-scripts does not cover: ${uncovered.join(', ')}.`,
      {
        hint: `npm install -g refuses the same. Allow them (npm config set allow-scripts=${[...new Set(uncovered.map((id) => id.slice(0, id.lastIndexOf('@'))))].join(',')} --location=user) after reviewing their scripts, or set ignore-scripts.`,
        details: { uncovered },
      },
    );
  }
  return uncovered;
}

/** The name the registry serves the package under: `…/[@scope/]<name>/-/<file>.tgz`, else its folder name. */
export function registryIdentity(node: Pick<TreeNode, 'name' | 'resolved'>): string {
  const url = node.resolved?.replace(/%2f/gi, '/') ?? '';
  const at = /^https?:/.test(url) ? url.lastIndexOf('/-/') : -1;
  if (at < 0) return node.name;
  const parts = url.slice(0, at).split('/');
  const name = parts.at(-1) ?? '';
  const scope = parts.at(-2) ?? '';
  return scope.startsWith('@') ? `${scope}/${name}` : name || node.name;
}

function covers(entry: string, name: string, version: string): boolean {
  const at = entry.lastIndexOf('@');
  if (at <= 0) return entry === name;
  if (entry.slice(0, at) !== name) return false;
  const versions = entry.slice(at + 1).trim();
  return versions === '' || versions === '*' || versions.split('||').some((v) => v.trim() === version);
}
