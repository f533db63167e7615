// Other installers as peers of the npm anchor (issue 20): `bun add -g` and `pnpm add -g`, each upgrading
// in place in its own global folder, with its own cache warmed the same way npm's is (a warm-up pass),
// lifecycle scripts allowed as npm allows them. They are installed once from the npm registry into
// .bench-cache/peers (bun ships its binary inside a registry package; pnpm is a registry package).
//
// What they build is compared with npm's by the packages each makes reachable from the installed
// package (name@version of every dependency, following Node's resolution from each package's real
// folder), since bun hoists everything into its global folder and pnpm links from its virtual store:
// their file trees cannot equal npm's, their package sets can.

import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

export const PEER_VERSIONS = { bun: '1.4.5', pnpm: '12.21.0' };

/** {bun, pnpm}: paths of their executables, installed on first use; a peer that cannot be had is left out with why. */
export async function ensurePeers(cacheDir, names, { npmFile = 'npm', npmPre = [], env = process.env } = {}) {
  const dir = path.join(cacheDir, 'peers');
  const bins = Object.fromEntries(names.map((name) => [name, path.join(dir, 'node_modules', '.bin', name)]));
  const wanted = names.filter((name) => !fs.existsSync(bins[name]));
  const missing = {};
  if (wanted.length > 0) {
    fs.mkdirSync(dir, { recursive: true });
    const specs = wanted.map((name) => `${name}@${PEER_VERSIONS[name]}`);
    await execa(npmFile, [...npmPre, 'install', '--no-audit', '--no-fund', '--prefix', dir, ...specs], {
      env,
      timeout: 10 * 60_000,
      reject: false,
    });
  }
  for (const name of names) if (!fs.existsSync(bins[name])) missing[name] = `${bins[name]} could not be installed`;
  return { bins: Object.fromEntries(names.filter((n) => !missing[n]).map((n) => [n, bins[n]])), missing };
}

/** Packages below `pkgDir` (npm's tree) whose install scripts npm runs: bun runs only these, named as trusted. */
export function scriptedPackages(pkgDir) {
  const names = new Set();
  for (const dir of reachable(pkgDir).values()) {
    const pkg = readJson(path.join(dir, 'package.json'));
    const scripts = pkg?.scripts ?? {};
    if (scripts.preinstall || scripts.install || scripts.postinstall || fs.existsSync(path.join(dir, 'binding.gyp')))
      names.add(pkg.name);
  }
  return [...names].sort();
}

/**
 * A peer's in-place upgrade, as measure() runs it: `from` installed untimed by `install(spec)`, then
 * `to` timed. Returns what `install` returns for `to`, plus the installed package's real folder.
 */
export function peerCommands(name, { bin, home, storeDir, trusted = [], registry }) {
  if (name === 'bun') {
    const env = { BUN_INSTALL: home, BUN_INSTALL_CACHE_DIR: storeDir };
    const globalDir = path.join(home, 'install', 'global');
    return {
      env,
      prepare() {
        // Trusted as npm would run them: bun runs a dependency's scripts only when it is listed.
        fs.mkdirSync(globalDir, { recursive: true });
        fs.writeFileSync(path.join(globalDir, 'package.json'), JSON.stringify({ trustedDependencies: trusted }));
      },
      args: (spec) => [bin, ['add', '-g', spec]],
      installed: (pkg) => path.join(globalDir, 'node_modules', pkg),
    };
  }
  const env = { PNPM_HOME: home };
  return {
    env,
    pathPrefix: path.join(home, 'bin'),
    prepare() {},
    args: (spec) => [
      bin,
      [
        'add',
        '-g',
        `--store-dir=${storeDir}`,
        '--config.dangerously-allow-all-builds=true',
        '--reporter=silent',
        // pnpm 12 does not read npm_config_registry from the environment.
        ...(registry ? [`--registry=${registry}`] : []),
        spec,
      ],
    ],
    installed: (pkg) => {
      // pnpm 11+ keeps each global package in a folder of its own under global/v11/<hash>/.
      const root = path.join(home, 'global');
      for (const dir of walkDirs(root, 3)) {
        const candidate = path.join(dir, 'node_modules', pkg);
        if (fs.existsSync(path.join(candidate, 'package.json'))) return fs.realpathSync(candidate);
      }
      return undefined;
    },
  };
}

function walkDirs(root, depth) {
  if (depth < 0 || !fs.existsSync(root)) return [];
  const out = [root];
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    if (entry.isDirectory() && entry.name !== 'node_modules')
      out.push(...walkDirs(path.join(root, entry.name), depth - 1));
  }
  return out;
}

const readJson = (file) => {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
};

/** `name@version` → real folder of every package reachable from `pkgDir` through its dependencies. */
export function reachable(pkgDir) {
  const found = new Map();
  const stack = [fs.realpathSync(pkgDir)];
  const seen = new Set();
  while (stack.length > 0) {
    const dir = stack.pop();
    if (seen.has(dir)) continue;
    seen.add(dir);
    const pkg = readJson(path.join(dir, 'package.json'));
    if (!pkg) continue;
    found.set(`${pkg.name}@${pkg.version}`, dir);
    const optionalPeers = Object.entries(pkg.peerDependenciesMeta ?? {}).filter(([, m]) => m?.optional);
    const names = new Set([
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.optionalDependencies ?? {}),
      ...Object.keys(pkg.peerDependencies ?? {}).filter((n) => !optionalPeers.some(([o]) => o === n)),
    ]);
    for (const name of names) {
      const at = resolveFrom(dir, name);
      if (at) stack.push(at);
    }
  }
  return found;
}

function resolveFrom(dir, name) {
  for (let at = dir; ; at = path.dirname(at)) {
    const candidate = path.join(at, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return fs.realpathSync(candidate);
    if (path.dirname(at) === at) return undefined;
  }
}

/** The packages one tree has and the other lacks (name@version), both ways. */
export function comparePackages(peerDir, npmDir) {
  const peer = new Set(reachable(peerDir).keys());
  const npm = new Set(reachable(npmDir).keys());
  const onlyPeer = [...peer].filter((p) => !npm.has(p)).sort();
  const onlyNpm = [...npm].filter((p) => !peer.has(p)).sort();
  return {
    packages: peer.size,
    npmPackages: npm.size,
    onlyPeer,
    onlyNpm,
    equal: onlyPeer.length + onlyNpm.length === 0,
  };
}
