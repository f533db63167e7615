// Issue 30: release-switcher runs as the account it serves. Every verb as a normal (non-root) account on a root it
// owns; root acting for a service account (the releases are readable by that account, nothing else of the root is);
// and an account that may not touch a root gets PERMISSION_DENIED with the path, the account and the fix, never
// INTERNAL or "not valid JSON". The CLI runs as the test accounts (setpriv), not as root, except where a case is
// about root acting for another account, which says so.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import {
  type Account,
  accountTempDir,
  asAccount,
  canUseAccounts,
  normalAccount,
  serviceAccount,
} from '../support/accounts.ts';
import { type CliResult, cli, tempDir } from '../support/cli.ts';
import { linkOf, releaseDirs, stagingEntries } from '../support/root.ts';
import { describeWhere } from '../support/skip.ts';

const PKG = 'rs-fixture-gateway';

/** Whether `who` can do `test OP path` (as that account, through setpriv). */
function canAs(who: Account, op: '-r' | '-w' | '-x', file: string): boolean {
  const [command, args] = asAccount(who, '/usr/bin/test', [op, file]);
  try {
    execFileSync(command, args);
    return true;
  } catch {
    return false;
  }
}

describeWhere(canUseAccounts(), 'as the account it serves', () => {
  let user: Account;
  let folders: string[] = [];
  beforeAll(() => {
    user = normalAccount();
  });
  afterAll(() => {
    // Root removes them whatever their modes; releases root installed carry the immutable attribute.
    for (const dir of folders) {
      spawnSync('chattr', ['-R', '-f', '-i', dir]);
      rmSync(dir, { recursive: true, force: true });
    }
    folders = [];
  });
  const ownFolder = (who: Account) => {
    const dir = accountTempDir(who, 'rs-account-');
    folders.push(dir);
    return dir;
  };
  const as = (who: Account) => (root: string, args: string[]) => cli(['--root', root, '--json', ...args], { as: who });
  const ok = (r: CliResult) => expect(r.exitCode, r.stdout + r.stderr).toBe(0);

  it('a normal account installs, switches, rolls back, prunes, recovers and checks a root of its own', async () => {
    const rs = as(user);
    const root = join(ownFolder(user), 'root');
    ok(await rs(root, ['init', '--package', PKG, '--registry', inject('registryUrl')]));
    for (const version of ['1.0.0', '1.1.0', '1.2.0']) {
      const installed = await rs(root, ['install', `${PKG}@${version}`]);
      ok(installed);
      expect(installed.json.result).toMatchObject({ version, alreadyInstalled: false });
    }
    // A sealed release belongs to the account and nobody may write it, the account included.
    const release = join(root, 'releases', '1.1.0');
    expect(statSync(release).uid).toBe(user.uid);
    expect(statSync(release).mode & 0o777).toBe(0o555);
    expect(canAs(user, '-w', release)).toBe(false);
    expect(canAs(user, '-w', join(release, 'package.json'))).toBe(false);
    ok(await rs(root, ['switch', '1.0.0']));
    const update = await rs(root, ['update', `${PKG}@1.1.0`]);
    ok(update);
    expect(update.json.result).toMatchObject({ kind: 'update', status: 'switched', from: '1.0.0', to: '1.1.0' });
    const back = await rs(root, ['rollback']);
    ok(back);
    expect(back.json.result).toMatchObject({ kind: 'rollback', status: 'switched', to: '1.0.0' });
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
    const pruned = await rs(root, ['prune', '--keep', '0']);
    ok(pruned);
    expect(pruned.json.result.removed).toEqual(['1.2.0']);
    expect(releaseDirs(root)).toEqual(['1.0.0', '1.1.0']);
    ok(await rs(root, ['recover']));
    const doctor = await rs(root, ['doctor', '--deep']);
    ok(doctor);
    expect(doctor.json.result.checks.filter((c: { ok: boolean }) => !c.ok)).toEqual([]);
    expect(stagingEntries(root)).toEqual([]);
  });

  it('an account that may not read a root gets PERMISSION_DENIED naming the path, the account and the owner', async () => {
    // Root's own root, as `sudo release-switcher init` leaves it (in a folder of root's: root refuses one in a folder
    // another account may change); the normal account then tries to use it.
    const dir = tempDir('rs-account-', null);
    const root = join(dir, 'root');
    chmodSync(dir, 0o755);
    const made = await cli(['--root', root, '--json', 'init', '--package', PKG, '--registry', inject('registryUrl')], {
      as: null, // root
    });
    ok(made);
    // Reading: the file it may not read. Changing: refused before anything is read, the root being root's (one owner).
    for (const [args, path] of [
      [['status'], join(root, 'config.json')],
      [['install', `${PKG}@1.0.0`], root],
      [['boot-check'], root],
    ] as const) {
      const r = await as(user)(root, [...args]);
      expect(r.exitCode, `${args[0]}: ${r.stdout}${r.stderr}`).toBe(1);
      expect(r.json.error).toMatchObject({
        code: 'PERMISSION_DENIED',
        details: { account: user.name, uid: user.uid, owner: 'root', path },
      });
      expect(r.json.error.message).toContain(path);
      expect(r.json.error.hint).toMatch(/sudo release-switcher/);
    }
    expect(existsSync(join(root, 'releases'))).toBe(true);
    expect(readdirSync(join(root, 'releases'))).toEqual([]);
  });

  it('root acting for a service account (as root): releases readable by that account, the rest of the root not', async () => {
    const service = serviceAccount();
    const dir = tempDir('rs-account-', null); // root's: root refuses a root in a folder another account may change
    chmodSync(dir, 0o755); // a root's parent the service's account may pass (doctor says so when it may not)
    const root = join(dir, 'root');
    const init = ['init', '--package', PKG, '--registry', inject('registryUrl'), '--service-user', service.name];
    const asRoot = (args: string[]) => cli(['--root', root, '--json', ...args], { as: null });
    ok(await asRoot(init));
    ok(await asRoot(['install', `${PKG}@1.0.0`]));
    ok(await asRoot(['switch', '1.0.0']));
    const releases = join(root, 'releases');
    expect(statSync(releases).gid).toBe(service.gid);
    expect(statSync(releases).mode & 0o777).toBe(0o710);
    expect(canAs(service, '-r', join(root, 'current', 'package.json'))).toBe(true);
    expect(canAs(service, '-x', join(root, 'current', 'server.js'))).toBe(true); // its tarball made it executable
    expect(canAs(service, '-r', join(root, 'current', 'server.js'))).toBe(true);
    expect(canAs(service, '-w', join(root, 'current', 'server.js'))).toBe(false);
    expect(canAs(service, '-r', releases)).toBe(false); // may pass through, never list
    expect(statSync(root).mode & 0o777).toBe(0o711); // nor list the root's names
    expect(canAs(service, '-r', join(root, 'config.json'))).toBe(false);
    expect(canAs(service, '-r', join(root, 'state.json'))).toBe(false);
    // Another account than the service's gets nowhere.
    expect(canAs(user, '-r', join(root, 'current', 'package.json'))).toBe(false);
    const doctor = await asRoot(['doctor']);
    ok(doctor);
    expect(doctor.json.result.checks).toContainEqual(expect.objectContaining({ name: 'service-access', ok: true }));
  });
});
