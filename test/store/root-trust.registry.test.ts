// Trust in a root, its config and the lists of roots (store/root-trust.ts), tried as the other account would, with its
// own rights only (setpriv as that account): mallory makes a listed root's path again in a shared 1777 folder (/tmp's
// stand-in) and names a Node of hers; the service account owns a folder above root's root; an account's .npmrc in the
// folder root runs in; root acting on the account's own root; a root left half root's, repaired by root's doctor --fix
// without following the links in it. Each refusal is PERMISSION_DENIED naming the path, its owner and the fix.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { expect, inject, it } from 'vitest';
import {
  type Account,
  account,
  asAccount,
  canUseAccounts,
  normalAccount,
  serviceAccount,
} from '../support/accounts.ts';
import { cli, runnableBy, tempDir } from '../support/cli.ts';
import { describeWhere } from '../support/skip.ts';

const PKG = 'rs-fixture-gateway';
const rehearsed = [
  ...['--supervisor', 'none', '--health-url', 'http://127.0.0.1:9/health'],
  ...['--preflight', 'server.js --port {port}', '--preflight-for', '1', '--verify-timeout', '5'],
];

/** Run `command args` as `who`, with its own rights only. */
const runAs = (who: Account, command: string, args: string[]) => {
  const [file, argv] = asAccount(who, command, args);
  execFileSync(file, argv, { stdio: 'pipe' });
};

/** A Node of `who`'s that leaves `marker` each time it runs, then runs the real one. */
function plantedNode(who: Account, dir: string, marker: string): string {
  const node = join(dir, 'node');
  writeFileSync(node, `#!/bin/sh\necho "$(id -un)" >> ${marker}\nexec ${runnableBy(who).node} "$@"\n`, { mode: 0o755 });
  chownSync(node, who.uid, who.gid);
  return node;
}

describeWhere(canUseAccounts(), 'trust in a root, as another account would attack it', () => {
  it('--all never runs a listed root mallory made again in a shared 1777 folder (control: she runs it herself)', async () => {
    const alice = normalAccount();
    const mallory = account('rs-mallory');
    const shared = tempDir('rs-trust-shared-', null);
    chmodSync(shared, 0o1777);
    const state = tempDir('rs-trust-state-', alice);
    const env = { XDG_STATE_HOME: state, RELEASE_SWITCHER_SYSTEM_ROOTS: join(state, 'system-roots.json') };
    const mine = join(tempDir('rs-trust-mine-', alice), 'root');
    const gone = join(shared, 'gw');
    for (const root of [mine, gone]) {
      const init = await cli(
        ['--root', root, '--json', 'init', '--package', PKG, '--registry', inject('registryUrl'), ...rehearsed],
        { as: alice, env },
      );
      expect(init.exitCode, init.stdout + init.stderr).toBe(0);
      expect(JSON.parse(readFileSync(init.json.result.registered.file, 'utf8')).roots.at(-1).identity).toMatchObject({
        uid: alice.uid,
      });
    }
    runAs(alice, '/bin/rm', ['-rf', gone]); // alice removes it and leaves it on her list
    // Mallory makes it again, hers, naming her Node; her folder for the marker is open to everyone's Node.
    const den = join(shared, 'den');
    runAs(mallory, '/bin/mkdir', ['-m', '0777', den]);
    const marker = join(den, 'ran');
    const node = plantedNode(mallory, den, marker);
    const hers = ['init', '--package', PKG, '--registry', inject('registryUrl'), ...rehearsed, '--node', node];
    const planted = await cli(['--root', gone, '--json', ...hers], { as: mallory });
    expect(planted.exitCode, planted.stdout + planted.stderr).toBe(0);
    // Control: her Node does run when the root is run (by her, on her root): the marker says so.
    const control = await cli(['--root', gone, '--json', 'update', `${PKG}@1.0.0`], { as: mallory });
    expect(control.exitCode, control.stdout + control.stderr).toBe(0);
    expect(readFileSync(marker, 'utf8')).toContain(mallory.name);
    rmSync(marker);

    for (const command of ['status', 'update']) {
      const r = await cli(['--json', command, '--all'], { as: alice, env });
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      const outcome = r.json.result.roots.find((o: { root: string }) => o.root === gone);
      expect(outcome).toMatchObject({ status: 'untrusted', exitCode: 1, code: 'PERMISSION_DENIED' });
      expect(outcome.message).toContain(`${gone} (owner ${mallory.name}`);
      expect(outcome.hint).toContain(`forget ${gone}`);
      // Her own root ran as always.
      const own = r.json.result.roots.find((o: { root: string }) => o.root === mine);
      expect(own.exitCode, JSON.stringify(own)).toBe(0);
    }
    expect(existsSync(marker)).toBe(false); // mallory's Node never ran as alice
  }, 300_000);

  it("root refuses a root below a folder the service account may change, and never runs the account's Node there", async () => {
    const svc = serviceAccount();
    const theirs = tempDir('rs-trust-parent-', null);
    chmodSync(theirs, 0o755);
    const root = join(theirs, 'gw');
    const made = await cli(
      ['--root', root, '--json', 'init', '--package', PKG, '--registry', inject('registryUrl'), ...rehearsed],
      { as: null },
    );
    expect(made.exitCode, made.stdout + made.stderr).toBe(0);
    chownSync(theirs, svc.uid, svc.gid); // the folder above becomes the account's
    // The account swaps root's root for one of its own, naming its Node.
    const marker = join(theirs, 'ran');
    const node = plantedNode(svc, theirs, marker);
    runAs(svc, '/bin/mv', [root, join(theirs, 'old')]);
    runAs(svc, '/bin/mkdir', [root]);
    writeFileSync(join(root, 'config.json'), JSON.stringify({ layoutVersion: 1, package: PKG, node }));
    chownSync(join(root, 'config.json'), svc.uid, svc.gid);
    for (const args of [
      ['--root', root, 'status'],
      ['--root', root, 'update', `${PKG}@1.0.0`],
      ['update', '--all'],
    ]) {
      const r = await cli(['--json', ...args], { as: null });
      expect(r.exitCode, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(1);
      const all = args.includes('--all');
      const error = all ? r.json.result.roots.find((o: { root: string }) => o.root === root) : r.json.error;
      expect(error.code).toBe('PERMISSION_DENIED');
      expect(error.message).toContain(`owner ${svc.name}`);
      if (all) expect(error.status).toBe('untrusted');
    }
    expect(existsSync(marker)).toBe(false);
    // A new root there is refused before anything is made.
    const fresh = await cli(['--root', join(theirs, 'new'), '--json', 'init', '--package', PKG], { as: null });
    expect(fresh.json.error).toMatchObject({
      code: 'PERMISSION_DENIED',
      details: { reason: 'parent-owner', owner: svc.name },
    });
    expect(existsSync(join(theirs, 'new'))).toBe(false);
  }, 300_000);
});

describeWhere(canUseAccounts(), 'root never runs a configured Node another account may change', () => {
  it("root's own root whose config names the service account's Node: status reads, update refuses naming it; that Node never runs", async () => {
    const svc = serviceAccount();
    const rootDir = tempDir('rs-trust-node-', null);
    chmodSync(rootDir, 0o755);
    // install-cli.sh's shape: the service's Node under its own home, which the account may replace at will.
    const theirs = tempDir('rs-trust-node-theirs-', svc);
    const marker = join(theirs, 'ran');
    const node = plantedNode(svc, theirs, marker);
    const root = join(rootDir, 'gw');
    const made = await cli(
      ['--root', root, '--json', 'init', '--package', PKG, '--registry', inject('registryUrl'), '--node', node],
      { as: null },
    );
    expect(made.exitCode, made.stdout + made.stderr).toBe(0);
    expect((await cli(['--root', root, '--json', 'status'], { as: null })).exitCode).toBe(0);
    for (const args of [
      ['install', `${PKG}@1.0.0`],
      ['update', `${PKG}@1.0.0`],
    ]) {
      const r = await cli(['--root', root, '--json', ...args], { as: null });
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      expect(r.json.error).toMatchObject({
        code: 'PERMISSION_DENIED',
        message: expect.stringContaining('Root does not run the configured node'),
        hint: expect.stringContaining('release-switcher init --node PATH'),
        details: { setting: 'node' },
      });
    }
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(root, 'releases', '1.0.0'))).toBe(false);
  }, 300_000);
});

describeWhere(canUseAccounts(), 'one owner for a root: root acting for the service account', () => {
  /** Every path under `dir` owned by root (find, which does not follow links). */
  const rootOwned = (dir: string) => execFileSync('find', [dir, '-uid', '0'], { encoding: 'utf8' }).trim();

  it("root in a folder with the account's .npmrc does not take it (control: the account does)", async () => {
    const svc = serviceAccount();
    const folder = tempDir('rs-trust-npmrc-', svc);
    // The account's settings: a registry nobody answers on. Root's own user config names the test registry.
    writeFileSync(join(folder, '.npmrc'), 'registry=http://127.0.0.1:9/\n');
    chownSync(join(folder, '.npmrc'), svc.uid, svc.gid);
    const rootHome = tempDir('rs-trust-roothome-', null);
    writeFileSync(join(rootHome, 'npmrc'), `registry=${inject('registryUrl')}\n`);
    const root = join(tempDir('rs-trust-rootroot-', null), 'gw');
    const env = { npm_config_userconfig: join(rootHome, 'npmrc') };
    const asRoot = (args: string[]) => cli(['--root', root, '--json', ...args], { as: null, env, cwd: folder });
    expect((await asRoot(['init', '--package', PKG])).exitCode).toBe(0);
    const installed = await asRoot(['install', `${PKG}@1.0.0`]);
    expect(installed.exitCode, installed.stdout + installed.stderr).toBe(0);
    expect(rootOwned(folder)).toBe('');
    // Control: the account, in its folder, does read it (a project .npmrc, as npm does for a local command).
    const own = join(folder, 'own');
    const asSvc = (args: string[]) => cli(['--root', own, '--json', ...args], { as: svc, env, cwd: folder });
    expect((await asSvc(['init', '--package', PKG])).exitCode).toBe(0);
    const refused = await asSvc(['install', `${PKG}@1.0.0`]);
    expect(refused.json.error?.code, refused.stdout + refused.stderr).toBe('FETCH_FAILED');
  }, 300_000);

  it("root's update on the account's own root is refused, naming the owner, nothing changed", async () => {
    const svc = serviceAccount();
    const root = join(tempDir('rs-trust-own-', svc), 'gw');
    const asSvc = (args: string[]) => cli(['--root', root, '--json', ...args], { as: svc });
    expect((await asSvc(['init', '--package', PKG, '--registry', inject('registryUrl')])).exitCode).toBe(0);
    expect((await asSvc(['update', `${PKG}@1.0.0`])).exitCode).toBe(0);
    const before = readFileSync(join(root, 'state.json'), 'utf8');
    for (const args of [['update', `${PKG}@1.1.0`], ['install', `${PKG}@1.1.0`], ['status']]) {
      const r = await cli(['--root', root, '--json', ...args], { as: null });
      expect(r.exitCode, `${args[0]}: ${r.stdout}${r.stderr}`).toBe(1);
      expect(r.json.error).toMatchObject({
        code: 'PERMISSION_DENIED',
        details: { reason: 'owner', owner: svc.name, path: root },
        hint: expect.stringContaining(`sudo -u ${svc.name} release-switcher --root ${root}`),
      });
    }
    expect(rootOwned(root)).toBe('');
    expect(readFileSync(join(root, 'state.json'), 'utf8')).toBe(before);
    const status = await asSvc(['status']);
    expect(status.exitCode, status.stdout + status.stderr).toBe(0);
    expect(status.json.result.current).toBe('1.0.0');
  }, 300_000);

  it("root's doctor --fix gives back what root left in the account's root, never following a link there", async () => {
    const svc = serviceAccount();
    const root = join(tempDir('rs-trust-mixed-', svc), 'gw');
    const asSvc = (args: string[]) => cli(['--root', root, '--json', ...args], { as: svc });
    expect((await asSvc(['init', '--package', PKG, '--registry', inject('registryUrl')])).exitCode).toBe(0);
    // What root acting there used to leave: its journal, a folder and a file, and links of its own.
    const victims = tempDir('rs-trust-victims-', null);
    const victim = join(victims, 'passwd');
    writeFileSync(victim, 'root:x:0:0\n');
    mkdirSync(join(victims, 'dir'));
    writeFileSync(join(root, 'state.json'), '{}\n', { mode: 0o600 });
    chownSync(join(root, 'state.json'), 0, 0);
    chownSync(join(root, 'config.json'), 0, 0);
    chmodSync(join(root, 'config.json'), 0o600);
    mkdirSync(join(root, 'snapshots', 'tx1'), { recursive: true, mode: 0o700 });
    writeFileSync(join(root, 'snapshots', 'tx1', 'file'), 'x');
    // Sealed as root seals releases, where the file system has the attribute: not even root may chown it as it is.
    const sealed = join(root, 'snapshots', 'tx1', 'sealed');
    writeFileSync(sealed, 'y', { mode: 0o444 });
    const immutable = spawnSync('chattr', ['+i', sealed]).status === 0;
    symlinkSync(victim, join(root, 'snapshots', 'tx1', 'root-link')); // root's link (root made it)
    // The account's own link to a folder of root's, where root's folder of the same name was: never entered.
    runAs(svc, '/bin/ln', ['-s', join(victims, 'dir'), join(root, 'staging', 'planted')]);
    // Locked out of its own root, the account is told how root gives its files back, not to run as root again.
    const denied = await asSvc(['status']);
    expect(denied.json.error?.code, denied.stdout).toBe('PERMISSION_DENIED');
    expect(denied.json.error.hint).toContain('sudo release-switcher --root <the root> doctor --fix');
    const seen = await asSvc(['doctor']);
    const check = seen.json.result.checks.find((c: { name: string }) => c.name === 'one-owner');
    expect(check).toMatchObject({ ok: false, detail: expect.stringContaining('sudo release-switcher --root') });
    const fixed = await cli(['--root', root, '--json', 'doctor', '--fix'], { as: null });
    expect(fixed.exitCode, fixed.stdout + fixed.stderr).toBe(0);
    expect(fixed.json.result.checks.find((c: { name: string }) => c.name === 'one-owner')).toMatchObject({
      ok: true,
      fixed: expect.stringContaining(`back to ${svc.name}`),
    });
    expect(rootOwned(root)).toBe('');
    expect(lstatSync(join(root, 'snapshots', 'tx1', 'root-link')).uid).toBe(svc.uid);
    expect(statSync(sealed).uid).toBe(svc.uid);
    if (immutable)
      expect(execFileSync('lsattr', ['-d', sealed], { encoding: 'utf8' }).split(' ')[0]).not.toContain('i');
    expect(statSync(victim).uid).toBe(0); // the link was changed itself, its target untouched
    expect(statSync(join(victims, 'dir')).uid).toBe(0);
    // The account's own doctor finds nothing of another's left (the check is said only when it finds some).
    const after = await asSvc(['doctor']);
    expect(after.json.result.checks.find((c: { name: string }) => c.name === 'one-owner')).toBeUndefined();
    expect(after.stdout).not.toContain('one-owner');
  }, 300_000);
});
