// A real openclaw release altered in one respect, for a test of how release-switcher judges it: a copy of the package
// under a version of its own (package.json and dist/build-info.json, which the gateway reports before package.json),
// with the one change made through `patchFile`, which keeps the release's own content inventory
// (dist/postinstall-content-inventory.json: path, sha256, size, mode per dist file) true to the files.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pacote from 'pacote';

const INVENTORY = 'dist/postinstall-content-inventory.json';

/**
 * A writable copy of the openclaw package folder `from` at `into` (an installed release, an npm -g prefix's package),
 * naming itself `version` (`asVersion`). Returns `into`.
 */
export function repackOpenclaw(options: { from: string; into: string; version: string }): string {
  mkdirSync(path.dirname(options.into), { recursive: true });
  execFileSync('cp', ['-a', options.from, options.into]);
  execFileSync('chmod', ['-R', 'u+w', options.into]);
  return asVersion(options.into, options.version);
}

/**
 * The package folder `pkg` (writable) names itself `version`: in package.json and dist/build-info.json (what the gateway
 * reports, before package.json), release-switcher's marker (`.release-switcher.json` of an installed release) left out.
 */
export function asVersion(pkg: string, version: string): string {
  rmSync(path.join(pkg, '.release-switcher.json'), { force: true });
  for (const rel of ['package.json', 'dist/build-info.json']) {
    const file = path.join(pkg, rel);
    if (!existsSync(file)) continue;
    writeFileSync(file, `${JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), version }, null, 2)}\n`);
    updateInventory(pkg, rel);
  }
  return pkg;
}

/**
 * Rewrites `rel` (relative to the package) with `edit`, which must change it: a patch that no longer applies (another
 * openclaw build) fails here rather than leaving the release unaltered. The content inventory follows.
 */
export function patchFile(pkg: string, rel: string, edit: (text: string) => string): void {
  const file = path.join(pkg, rel);
  const before = readFileSync(file, 'utf8');
  const after = edit(before);
  if (after === before) throw new Error(`the patch of ${rel} changed nothing`);
  writeFileSync(file, after);
  updateInventory(pkg, rel);
}

/**
 * A copy of the release `from` as `version` (repackOpenclaw, at `into`) whose `update finalize` exits 1 with a `failed`
 * verdict before anything else runs: what a target whose finalize fails looks like to release-switcher. Returns `into`.
 */
export function repackFinalizeFails(options: { from: string; into: string; version: string }): string {
  const pkg = repackOpenclaw(options);
  const fail =
    "if (process.argv.includes('finalize')) { process.stdout.write(JSON.stringify({ status: 'failed', mode: 'finalize', error: 'repacked to fail' })); process.exit(1); }\n";
  // After a shebang, which must stay the first line.
  patchFile(pkg, 'dist/index.js', (text) => (text.startsWith('#!') ? text.replace(/\n/, `\n${fail}`) : fail + text));
  return pkg;
}

/** The one file directly under `dist/` whose text holds `marker` (bundle names carry a hash), relative to the package. */
export function distFileWith(pkg: string, marker: string): string {
  const found = readdirSync(path.join(pkg, 'dist'))
    .filter((name) => /\.m?js$/.test(name))
    .filter((name) => readFileSync(path.join(pkg, 'dist', name), 'utf8').includes(marker));
  if (found.length !== 1) throw new Error(`${found.length} files in ${pkg}/dist hold ${JSON.stringify(marker)}`);
  return `dist/${found[0]}`;
}

function updateInventory(pkg: string, rel: string): void {
  const file = path.join(pkg, INVENTORY);
  if (!existsSync(file)) return;
  const entries = JSON.parse(readFileSync(file, 'utf8')) as Array<{ path: string; sha256: string; size: number }>;
  const entry = entries.find((e) => e.path === rel);
  if (!entry) return;
  const bytes = readFileSync(path.join(pkg, rel));
  entry.sha256 = createHash('sha256').update(bytes).digest('hex');
  entry.size = statSync(path.join(pkg, rel)).size;
  writeFileSync(file, `${JSON.stringify(entries, null, 2)}\n`);
}

/**
 * The published tarball of `openclaw@version`, out of npm's cache when it holds it (pacote, `preferOffline`), else
 * from the registry into that cache, unpacked under `dir`: its package folder. Not offline only: the tier's cache holds
 * only what some file installed before, and a file that runs first on a fresh machine (9.5's prefix prepared, 9.6 not
 * yet staged by anyone) found no 9.6 in it (ENOTCACHED). Extracted as it is read, in this process: `npm pack` of the
 * tarball's address unpacked it, packed it again and wrote a tarball to unpack once more (57 CPU-s with its gzip and
 * tar, as much as a finalize).
 */
export async function unpackFromCache(options: { version: string; cache: string; dir: string }): Promise<string> {
  const { version, cache, dir } = options;
  const into = path.join(dir, 'unpacked', 'package');
  mkdirSync(into, { recursive: true });
  // From the tarball's own address: npm's cache holds it under that key (an install fetched it there), so nothing is
  // asked of the registry when it is there (`openclaw@<version>` would want a packument the cache may hold in another
  // form).
  // pacote's `cache` is the cacache folder inside npm's cache (npm itself passes `<cache>/_cacache`).
  await pacote.extract(`https://registry.npmjs.org/openclaw/-/openclaw-${version}.tgz`, into, {
    cache: path.join(cache, '_cacache'),
    preferOffline: true,
  });
  return into;
}

/** `pkg` as an npm tarball at `file` (its entries under `package/`, as npm's are), for `install`/`update <file>`. */
export function packTarball(pkg: string, file: string): string {
  const staging = path.join(path.dirname(file), `.pack-${path.basename(file)}`);
  mkdirSync(staging);
  execFileSync('mv', [pkg, path.join(staging, 'package')]);
  // gzip's fastest level: the tarball is read once, by the staging under test; openclaw's package took 14 CPU-s at
  // tar's default level, 7 at this one (112 MB).
  execFileSync('tar', [
    '-cf',
    file,
    '-I',
    'gzip -1',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '-C',
    staging,
    'package',
  ]);
  rmSync(staging, { recursive: true, force: true });
  return file;
}
