// Root acting for the service account (the case is about root): the read-only walks of the account's state paths
// (wildcards matched, folders listed for the database preflight, links resolved to keep the state apart from the
// root, the checkpoint's coverage init shows) are done as the account (snapshot/state-side.ts), so a link the account
// plants (the attacker: the service account with its own rights only, through runuser) never makes root stat, list or
// resolve a root-only folder. Each attack has its control: the same walk by root itself, which does reach that folder
// (what root did before), and the walk of the account's own real folder, which finds its files.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { type Account, canUseAccounts, runThisFileAsRoot, serviceAccount } from '../support/accounts.ts';
import { cli, tempDir } from '../support/cli.ts';
import { describeWhere } from '../support/skip.ts';

runThisFileAsRoot('its subject is root acting for the service account: root walks the state, the account attacks');

const stateSide = () => import('../../dist/snapshot/state-side.js');

function asAttacker(who: Account, script: string): void {
  const r = spawnSync('runuser', ['-u', who.name, '--', 'sh', '-c', script], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`as ${who.name}: ${script}: ${r.stderr}`);
}

/** A root-only folder (0700) with files whose names and sizes are root's business. */
function rootOnly(): string {
  const dir = tempDir('rs-rootonly-', null);
  chmodSync(dir, 0o700);
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'keys.json'), 'root only\n', { mode: 0o600 });
  writeFileSync(join(dir, 'sub', 'vault.sqlite'), 'x'.repeat(4096), { mode: 0o600 });
  return dir;
}

/** The account's home with its state folder (`a.json`, `sub/b.sqlite`), made as the account. */
function accountState(who: Account): string {
  const state = join(tempDir('rs-home-', who), '.openclaw');
  asAttacker(
    who,
    `mkdir -m 700 ${state} ${state}/sub && echo one > ${state}/a.json && echo two > ${state}/sub/b.sqlite`,
  );
  return state;
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'no error',
    (e: { code?: string }) => e.code,
  );

describeWhere(canUseAccounts(), "root's read-only walks of the service account's state are the account's", () => {
  it("wildcards and the preflight's listing, the state folder swapped for a link to a root-only folder: nothing of it is listed; controls: root would have listed it, the account's own folder is", async () => {
    const who = serviceAccount();
    const { resolveStateAs, onStateSide } = await stateSide();
    const state = accountState(who);
    const args = { statePaths: [`${state}/*.json`, `${state}/sub`], independentPaths: [], env: { HOME: '/' } };
    // Control: the account's real folder, walked as the account.
    expect((await resolveStateAs(who, args)).paths).toEqual([join(state, 'a.json'), join(state, 'sub')]);
    expect((await onStateSide(who, 'files', [], { paths: [join(state, 'sub')] })).map((p) => p.live)).toEqual([
      join(state, 'sub', 'b.sqlite'),
    ]);

    const secret = rootOnly();
    asAttacker(who, `rm -rf ${state} && ln -s ${secret} ${state}`);
    // What root itself would have read through the link (the walk as it was): the root-only folder's names.
    expect((await resolveStateAs(undefined, args)).paths).toContain(join(state, 'keys.json'));
    expect((await onStateSide(undefined, 'files', [], { paths: [join(state, 'sub')] })).length).toBe(1);
    // As the account: refused by the kernel, or nothing; never a name from the root-only folder.
    expect(await codeOf(resolveStateAs(who, args))).toBe('PERMISSION_DENIED');
    expect(await onStateSide(who, 'files', [], { paths: [join(state, 'sub'), state] })).toEqual([]);
  });

  it("the check that keeps the state apart from the root resolves the account's links with its rights: a link through a root-only folder is not followed", async () => {
    const who = serviceAccount();
    const { assertStateApartAs } = await stateSide();
    const root = tempDir('rs-root-', null);
    chmodSync(root, 0o755);
    mkdirSync(join(root, 'releases'));
    const state = accountState(who);
    const args = { statePaths: [state], root, env: { HOME: '/' } };
    await assertStateApartAs(who, args); // control: the account's real folder is apart
    // The account links its state folder to a link inside a root-only folder, which leads into the root.
    const secret = rootOnly();
    symlinkSync(join(root, 'releases'), join(secret, 'inner'));
    asAttacker(who, `rm -rf ${state} && ln -s ${secret}/inner ${state}`);
    // Root resolving it (as it did) follows the root-only link and names where it leads.
    await expect(assertStateApartAs(undefined, args)).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      message: expect.stringContaining(`${root}/releases`),
    });
    // The account cannot pass the root-only folder: to it the path is its own, apart; no root-only target is named.
    expect(await codeOf(assertStateApartAs(who, args))).toBe('no error');
  });

  it("init's checkpoint coverage for the account, its state folder linked to a root-only folder: no file of it counted; control: its own folder's files", async () => {
    const who = serviceAccount();
    const state = accountState(who);
    const init = (root: string) =>
      cli(
        [
          'init',
          '--root',
          root,
          '--package',
          'fixture-gateway',
          '--service-user',
          who.name,
          '--state-path',
          state,
          '--json',
        ],
        { as: null },
      );
    const control = await init(tempDir('rs-root-', null));
    expect(control.exitCode, control.stderr).toBe(0);
    expect(control.json).toMatchObject({ result: { checkpoint: { paths: [{ path: state, type: 'dir', files: 2 }] } } });

    const secret = rootOnly();
    asAttacker(who, `rm -rf ${state} && ln -s ${secret} ${state}`);
    const attacked = await init(tempDir('rs-root-', null));
    expect(attacked.exitCode, attacked.stderr).toBe(0);
    const shown = JSON.stringify(attacked.json);
    expect(shown).not.toMatch(/keys\.json|vault\.sqlite/);
    // The account cannot list where its link leads: its walk is refused, and init shows no coverage at all (root's
    // own walk counted the root-only folder's two files and their bytes).
    expect((attacked.json as { result: { checkpoint?: unknown } }).result.checkpoint).toBeUndefined();
  });
});
