// The tarball is the product: `npm pack` of a clean checkout (no dist/ yet: prepack builds it) holds the CLI, the
// library and its declarations, the man page, the built OpenClaw plugin, layout/, README.md, docs/ and LICENSE, and
// nothing else; installed with `npm install -g --prefix` (and run with npx) it answers --version and --help, links its man
// page, writes the OpenClaw plugin folder that `openclaw plugins install` takes, and runs the demo's story.
// The dependencies come from the npm registry, as a user's do, through an npm cache kept in .bench-cache/ (like
// Node 24's): a warm run takes ~15 s, a cold one (CI's first) ~40 s more.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, tempDir } from '../support/cli.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const VERSION = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version as string;
const NPM_CACHE = path.join(REPO, '.bench-cache', 'npm-cache-tarball');
/** The documentation README.md links to: every file of docs/ (the two references are generated, see docs.test.ts). */
const DOCS = [
  'docs/cli.md',
  'docs/configuration.md',
  'docs/exit-codes-and-json.md',
  'docs/fleet.md',
  'docs/how-it-works.md',
  'docs/library-api.md',
  'docs/openclaw.md',
  'docs/operator-guide.md',
  'docs/presets.md',
  'docs/testing.md',
  'docs/troubleshooting.md',
];

/** The checkout as a clone would have it: the files git tracks or would track (not dist/), and our node_modules. */
function cleanCheckout(dir: string): void {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((file) => file && existsSync(path.join(REPO, file)));
  for (const file of files) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    copyFileSync(path.join(REPO, file), path.join(dir, file));
  }
  symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
}

/**
 * npm as the user runs it, with the machine's settings (a proxy's CA: NODE_EXTRA_CA_CERTS, the global npmrc's
 * cafile), as test/support/openclaw.ts installs openclaw; only the cache and the logs are the test's.
 */
const npmEnv = (work: string) => ({
  ...process.env,
  npm_config_cache: NPM_CACHE,
  npm_config_logs_dir: path.join(work, 'npm-logs'),
  npm_config_prefer_offline: 'true',
  npm_config_update_notifier: 'false',
});

/**
 * npm in `work`'s subfolder `cwd`; bounded, so a registry that cannot be reached fails the test instead of hanging it.
 * `timeoutMs`: more for `npm pack`, whose prepack builds the package (tsc): over 100 s in CI at a load average of 11.
 */
function npm(args: string[], work: string, cwd = work, timeoutMs = 100_000): string {
  return execFileSync('npm', args, {
    cwd,
    env: npmEnv(work),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
  });
}

describe('the packed tarball', () => {
  let work: string;
  let tarball: string;
  let files: string[];
  beforeAll(() => {
    work = tempDir('rs-test-tarball-');
    const checkout = path.join(work, 'checkout');
    cleanCheckout(checkout);
    expect(existsSync(path.join(checkout, 'dist'))).toBe(false);
    const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', work], work, checkout, 300_000)) as [
      { filename: string; files: { path: string }[] },
    ];
    tarball = path.join(work, packed.filename);
    files = packed.files.map((file) => file.path).sort();
  }, 360_000);

  it('ships the built CLI, library, declarations and man page, layout/, README.md, docs/ and LICENSE, and nothing else', () => {
    for (const needed of ['dist/cli/main.js', 'dist/index.js', 'dist/index.d.ts', 'dist/internals.d.ts'])
      expect(files).toContain(needed);
    expect(files).toContain('dist/man/release-switcher.1');
    expect(files).toEqual(
      expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'layout/config.schema.json']),
    );
    expect(files.filter((file) => file.startsWith('docs/'))).toEqual(DOCS);
    const plugin = ['openclaw.plugin.json', 'package.json', 'README.md'].map((f) => `integrations/openclaw/${f}`);
    expect(files).toEqual(expect.arrayContaining([...plugin, 'integrations/openclaw/dist/index.js']));
    const unexpected = files.filter(
      (file) =>
        ![...['LICENSE', 'README.md', 'package.json'], ...plugin, ...DOCS].includes(file) &&
        !file.startsWith('layout/') &&
        !/^(integrations\/openclaw\/)?dist\/.+\.(js|d\.ts)$/.test(file) &&
        file !== 'dist/man/release-switcher.1',
    );
    expect(unexpected).toEqual([]);
    expect(readFileSync(path.join(REPO, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
  });

  it('installs with npm install -g --prefix: --version, --help and the man page work from it', () => {
    const prefix = path.join(work, 'prefix');
    npm(['install', '-g', '--prefix', prefix, tarball], work);
    const bin = path.join(prefix, 'bin', 'release-switcher');
    const run = (args: string[]) => spawnSync(bin, args, { env: cliEnv(), encoding: 'utf8' });
    const version = run(['--version']);
    expect([version.status, version.stdout, version.stderr]).toEqual([0, `${VERSION}\n`, '']);
    const help = run(['--help']);
    expect([help.status, help.stderr]).toEqual([0, '']);
    expect(help.stdout).toMatch(/^Usage: release-switcher \[--root DIR\] \[--json\] COMMAND/);
    expect(help.stdout).toMatch(/^ {2}completion +print the shell completion script/m);
    expect(readFileSync(path.join(prefix, 'share', 'man', 'man1', 'release-switcher.1'), 'utf8')).toMatch(/^\.TH /);
  }, 120_000);

  it('writes the OpenClaw plugin folder from the installed package: the plugin, and release-switcher with its dependencies', () => {
    const out = path.join(work, 'openclaw-plugin');
    const bin = path.join(work, 'prefix', 'bin', 'release-switcher');
    const r = spawnSync(bin, ['openclaw-plugin', out], { env: cliEnv(), encoding: 'utf8' });
    expect([r.status, r.stdout], r.stderr).toEqual([0, `${out}\n`]);
    expect(r.stderr).toContain(`openclaw plugins install ${out} --force --accept-capabilities`);
    const manifest = JSON.parse(readFileSync(path.join(out, 'package.json'), 'utf8'));
    expect(manifest).toMatchObject({
      dependencies: { 'release-switcher': VERSION },
      bundleDependencies: ['release-switcher'],
    });
    expect(manifest).not.toHaveProperty('scripts');
    expect(existsSync(path.join(out, 'openclaw.plugin.json'))).toBe(true);
    // The runner of a scheduled switch runs this CLI; the plugin's modules resolve release-switcher inside the folder.
    const runner = spawnSync(
      process.execPath,
      [path.join(out, 'node_modules', 'release-switcher', 'dist', 'cli', 'main.js'), '--version'],
      {
        encoding: 'utf8',
      },
    );
    expect([runner.status, runner.stdout]).toEqual([0, `${VERSION}\n`]);
    const loaded = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(path.join(out, 'dist', 'index.js'))}); console.log(typeof m.default);`,
      ],
      { cwd: work, encoding: 'utf8' },
    );
    expect([loaded.status, loaded.stdout.trim()], loaded.stderr).toEqual([0, 'object']);
  }, 120_000);

  it("runs the demo's story (install, update verified, a broken release rolled back, list, status) on the installed CLI", () => {
    // The demo script and its pm2 are the checkout's (a development tool); every command it runs is the installed package's.
    const installed = path.join(work, 'prefix', 'lib', 'node_modules', 'release-switcher', 'dist', 'cli', 'main.js');
    expect(existsSync(installed)).toBe(true);
    const out = execFileSync(process.execPath, [path.join(REPO, 'scripts', 'demo.mjs')], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, NO_COLOR: '1', RELEASE_SWITCHER_DEMO_CLI: installed },
    });
    expect(out).toMatch(/update 1\.0\.0 → 1\.1\.0: verified/);
    expect(out).toMatch(/error ROLLED_BACK: 1\.2\.0 failed \(crashed\); 1\.1\.0 is running again and verified\./);
    expect(out).toMatch(/Running 1\.1\.0; previous 1\.0\.0 is the rollback target\./);
    expect(out).toMatch(/cleaned up: pm2 daemon stopped, temp root removed/);
  }, 150_000);

  it('runs with npx from the tarball', () => {
    const r = spawnSync('npx', ['--yes', '--package', tarball, '--', 'release-switcher', '--version'], {
      cwd: work,
      env: npmEnv(work),
      encoding: 'utf8',
      timeout: 100_000,
    });
    expect([r.status, r.stdout], r.stderr).toEqual([0, `${VERSION}\n`]);
  }, 120_000);
});
