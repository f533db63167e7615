/**
 * The packages a package's own tarball brings under its node_modules/ (its bundleDependencies): npm
 * builds them like any other dependency (bins, scripts) although the resolved tree does not list them.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { TreeNode } from './resolve/resolve-tree.js';

/**
 * The packages the package's own tarball brought under its node_modules/ (its bundleDependencies, with
 * whatever of theirs was packed along): the resolved tree does not list them (npm takes them from the
 * tarball at reify time), but npm links their bins and runs their scripts as for any dependency.
 */
export async function bundledPackages(pkgDir: string, location = ''): Promise<TreeNode[]> {
  const modules = path.join(pkgDir, location, 'node_modules');
  const names = await fs.readdir(modules).catch(() => [] as string[]);
  const found: TreeNode[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue;
    const scoped = name.startsWith('@')
      ? (await fs.readdir(path.join(modules, name)).catch(() => [] as string[]))
          .sort()
          .map((inner) => `${name}/${inner}`)
      : [name];
    for (const full of scoped) {
      const at = path.posix.join(location, 'node_modules', full);
      const manifest = await fs.readFile(path.join(pkgDir, at, 'package.json'), 'utf8').then(
        (text) => JSON.parse(text) as { name?: string; version?: string },
        () => undefined,
      );
      if (!manifest) continue;
      found.push({
        location: at,
        name: manifest.name ?? full,
        version: manifest.version ?? '',
        integrity: null,
        resolved: null,
        hasInstallScript: false,
        inBundle: true,
        isLink: false,
        hasShrinkwrap: false,
      });
      found.push(...(await bundledPackages(pkgDir, at)));
    }
  }
  return found;
}
