// Another user of the host against alice's registry credentials (issue: "registry credentials on a command line",
// "secrets at rest"). alice installs from a private registry (a Verdaccio that serves only its users) with the
// service's Node of another major than the CLI's, so the tree is resolved in a child on that Node. While she does,
// mallory, a second normal account, reads every process's command line in /proc, as any user may; afterwards she
// reads every file of alice's she can reach (alice's home is 0755, as `useradd -m` makes it on many hosts). Neither
// shows her alice's password (in the registry URL) or token (in her .npmrc). Controls: mallory's scan did read the
// resolve child's command line (where the options were before), the install needed the credentials (the registry
// refuses anyone else), and the secrets are on disk where root finds them (alice's 0600 files) — never in npm's
// cache or a kept tree, whose folder is 0700 besides.
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureNode } from '../../../bench/lib/node24.mjs';
import { type Account, account, canUseAccounts, nodeFor, normalAccount } from '../../support/accounts.ts';
import { readsAs, scanCommandLines } from '../../support/attacker.ts';
import { cli, tempDir } from '../../support/cli.ts';
import { type Registry, login, npm, publish, startRegistry } from '../../support/registry.ts';
import { describeWhere, itWhere } from '../../support/skip.ts';

const SLOW = 180_000;
const APP = 'rs-fixture-private-app';
const DEP = 'rs-fixture-private-dep';
const SHRINKWRAPPED = 'rs-fixture-private-shrinkwrapped';
const PASSWORD = `pw-${process.pid}-Zq81`;
const accounts = canUseAccounts();

let registry: Registry;
let token: string;
/** A Node of another major than the CLI's: the tree is then resolved in a child on it. */
let otherNode: string;

/** A package folder packed into a tarball (npm offline), with its npm-shrinkwrap.json when one is given. */
async function packed(pkg: Record<string, unknown>, shrinkwrap?: unknown): Promise<string> {
  const dir = tempDir('rs-private-src-', null);
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
  if (shrinkwrap) writeFileSync(join(dir, 'npm-shrinkwrap.json'), JSON.stringify(shrinkwrap));
  writeFileSync(join(dir, 'index.js'), 'module.exports = 1;\n');
  const { stdout } = await npm(['pack', dir, '--pack-destination', dir, '--json'], {});
  return join(dir, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
}

interface Alice {
  who: Account;
  home: string;
  root: string;
  env: Record<string, string>;
}

/** alice, with a home of 0755 and npm's default cache in it (~/.npm), her .npmrc (0600) holding `npmrc`. */
function alice(npmrc: string): Alice {
  const who = normalAccount();
  const home = tempDir('rs-alice-home-', who);
  chmodSync(home, 0o755);
  const userconfig = join(home, '.npmrc');
  writeFileSync(userconfig, npmrc, { mode: 0o600 });
  chownSync(userconfig, who.uid, who.gid);
  // What alice leaves readable to all: mallory's read must find it (the control that she reads what she can).
  writeFileSync(join(home, 'notes.txt'), 'readable by all\n', { mode: 0o644 });
  chownSync(join(home, 'notes.txt'), who.uid, who.gid);
  const root = join(home, 'root');
  mkdirSync(root, { mode: 0o700 });
  chownSync(root, who.uid, who.gid);
  // npm's defaults for a home: its cache ~/.npm, its config ~/.npmrc (set here only because cli() sets others').
  return {
    who,
    home,
    root,
    env: { HOME: home, npm_config_cache: join(home, '.npm'), npm_config_userconfig: userconfig },
  };
}

/** alice's init and install of `name` under mallory's scan; the command lines mallory read, and the install's result. */
async function installWatched(
  a: Alice,
  registryUrl: string,
  mallory: Account,
  name = APP,
): Promise<{ cmdlines: string[]; result: { fallback: string | null } }> {
  const root = join(a.root, name);
  const init = await cli(
    ['--root', root, '--json', 'init', '--package', name, '--registry', registryUrl, '--node', otherNode],
    { as: a.who, env: a.env },
  );
  expect(init.exitCode, init.stdout + init.stderr).toBe(0);
  const scan = scanCommandLines(mallory);
  const install = await cli(['--root', root, '--json', 'install', `${name}@1.0.0`], {
    as: a.who,
    env: a.env,
    timeout: SLOW,
  });
  const cmdlines = await scan.stop();
  expect(install.exitCode, install.stdout + install.stderr).toBe(0);
  // Resolved in a child on the other Node: the path whose options were on its command line.
  expect(install.stderr).toMatch(/dependencies resolved with Node v\d+\.\d+\.\d+ \(in a child/);
  return { cmdlines, result: install.json.result };
}

/** Files under `dir` (as root) holding one of `secrets`. */
function holding(dir: string, secrets: string[]): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter((file) => secrets.some((s) => readFileSync(file).toString('latin1').includes(s)));
}

describeWhere(
  { ok: accounts.ok, why: accounts.why, where: accounts.where ?? 'in CI, as root on Linux' },
  "registry credentials against another user's eyes",
  () => {
    beforeAll(async () => {
      const storageDir = tempDir('rs-private-registry-', null);
      registry = await startRegistry({ storageDir, users: { ada: PASSWORD } });
      token = await login(registry.url, 'ada', PASSWORD);
      await publish(await packed({ name: DEP, version: '1.0.0' }), { registry: registry.url, token });
      await publish(await packed({ name: APP, version: '1.0.0', dependencies: { [DEP]: '^1.0.0' } }), {
        registry: registry.url,
        token,
      });
      // A package with an npm-shrinkwrap.json: staged by a full `npm install` (the fast path leaves it to npm).
      const dep = await packed({ name: DEP, version: '1.0.0' });
      const shrinkwrap = {
        name: SHRINKWRAPPED,
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: {
          '': { name: SHRINKWRAPPED, version: '1.0.0', dependencies: { [DEP]: '^1.0.0' } },
          [`node_modules/${DEP}`]: {
            version: '1.0.0',
            resolved: new URL(`${DEP}/-/${DEP}-1.0.0.tgz`, registry.url).href,
            integrity: `sha512-${createHash('sha512').update(readFileSync(dep)).digest('base64')}`,
          },
        },
      };
      await publish(
        await packed({ name: SHRINKWRAPPED, version: '1.0.0', dependencies: { [DEP]: '^1.0.0' } }, shrinkwrap),
        { registry: registry.url, token },
      );
      const major = Number(process.versions.node.split('.')[0]);
      otherNode = nodeFor(normalAccount(), (await ensureNode(major === 24 ? 26 : 24)).node);
    }, SLOW);
    afterAll(() => registry?.close());

    it('the private registry refuses a request without them (the install below needed them)', async () => {
      expect((await fetch(new URL(APP, registry.url))).status).toBeGreaterThanOrEqual(401);
      expect((await fetch(new URL(APP, registry.url), { headers: { authorization: `Bearer ${token}` } })).ok).toBe(
        true,
      );
    });

    it(
      "a registry URL's password is on no command line mallory reads, and in no file of alice's she can read",
      async () => {
        const mallory = account('rs-mallory');
        const a = alice('');
        const url = new URL(registry.url);
        url.username = 'ada';
        url.password = PASSWORD;
        const { cmdlines } = await installWatched(a, url.href, mallory);
        // Control: mallory did read the resolve child's command line (the options were on it before).
        expect(cmdlines.filter((line) => line.includes('resolve-child.js')).length).toBeGreaterThan(0);
        expect(cmdlines.filter((line) => line.includes(PASSWORD))).toEqual([]);

        const { files, leaks } = readsAs(mallory, a.home, [PASSWORD]);
        expect(leaks.map((f) => f.file)).toEqual([]);
        // Control: her home is open to mallory (she reads what alice leaves readable), and the password is at rest,
        // in alice's own 0600 file under the root only.
        expect(files).toContain(join(a.home, 'notes.txt'));
        expect(holding(a.home, [PASSWORD])).toEqual([join(a.root, APP, 'registry-auth.json')]);
        // npm's cache, made by the install (~/.npm): 0700, and the resolved tree kept there holds no credentials.
        expect(statSync(join(a.home, '.npm')).mode & 0o777).toBe(0o700);
        expect(statSync(join(a.home, '.npm', '_cacache')).mode & 0o777).toBe(0o700);
        const index = readdirSync(join(a.home, '.npm', '_cacache', 'index-v5'), {
          recursive: true,
          withFileTypes: true,
        })
          .filter((e) => e.isFile())
          .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
          .join('\n');
        expect(index).toContain('release-switcher:resolved-tree:');
        expect(index).toContain(`"url":"${registry.url}${APP}"`);
      },
      SLOW,
    );

    // npm's own fetch of the dependency's tarball (the shrinkwrap's `resolved`) is refused 401 by this registry when it
    // must reach the network (it passes only when npm finds the tarball in its cache by integrity): the case cannot yet
    // say that npm had the credentials, so it is not counted as proof. The other cases here hold the class (no secret on
    // a command line, none in a file mallory reads) for the resolve child and our own fetches.
    itWhere(
      {
        ok: false,
        why: "npm's full install is refused 401 on the dependency tarball it fetches itself (E401, as before this change), intermittently hidden by npm's cache",
        where: 'nowhere until that is fixed',
      },
      "npm's full install (a package with an npm-shrinkwrap.json) gets a registry URL's password through its environment only",
      async () => {
        const mallory = account('rs-mallory');
        const a = alice('');
        const url = new URL(registry.url);
        url.username = 'ada';
        url.password = PASSWORD;
        const { cmdlines, result } = await installWatched(a, url.href, mallory, SHRINKWRAPPED);
        // npm itself installed the dependencies, from the registry that serves only ada: it had her credentials.
        expect(result.fallback).toContain('npm-shrinkwrap.json');
        expect(cmdlines.filter((line) => /npm(-cli\.js)? install/.test(line)).length).toBeGreaterThan(0);
        expect(cmdlines.filter((line) => line.includes(PASSWORD))).toEqual([]);
        expect(readsAs(mallory, a.home, [PASSWORD]).leaks.map((f) => f.file)).toEqual([]);
        expect(holding(join(a.home, '.npm'), [PASSWORD])).toEqual([]);
      },
      SLOW,
    );

    it(
      "a token in alice's .npmrc is on no command line mallory reads, and in no file of alice's she can read",
      async () => {
        const mallory = account('rs-mallory');
        const a = alice(`//${new URL(registry.url).host}/:_authToken=${token}\n`);
        const { cmdlines } = await installWatched(a, registry.url, mallory);
        expect(cmdlines.filter((line) => line.includes('resolve-child.js')).length).toBeGreaterThan(0);
        expect(cmdlines.filter((line) => line.includes(token))).toEqual([]);
        const { files, leaks } = readsAs(mallory, a.home, [token]);
        expect(leaks.map((f) => f.file)).toEqual([]);
        expect(files).toContain(join(a.home, 'notes.txt'));
        // At rest only in alice's .npmrc (0600, hers), as she wrote it.
        expect(holding(a.home, [token])).toEqual([join(a.home, '.npmrc')]);
      },
      SLOW,
    );
  },
);
