// Root acting for the service account (the case is about root): the capability review works in root's folder
// `<root>/preflight/review-<tx>`, the account's copy and config handed inside it (transaction/capability-review-step.ts).
// The user's config, when the copy does not hold it, is looked up and copied by the account (the attacker: the service
// account with its own rights only, through runuser, links it to a root-only file: root never reads that file, seen on
// its access time), and the folder is removed with what the account left there emptied by the account.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { type Account, canUseAccounts, runThisFileAsRoot, serviceAccount } from '../support/accounts.ts';
import { tempDir } from '../support/cli.ts';
import { describeWhere } from '../support/skip.ts';

runThisFileAsRoot('its subject is root acting for the service account: root prepares the review, the account attacks');

const review = () => import('../../dist/transaction/capability-review-step.js');
/** Where the config is looked up, as the account (finalize-choice.ts: the review's and finalize ahead's). */
const choice = () => import('../../dist/transaction/finalize-choice.js');
/** Where OpenClaw looks for its config: the locator the openclaw preset gives the review. */
const { openclawConfigFile } = await import('../../dist/presets/openclaw/config-file.js');

function asAttacker(who: Account, script: string): void {
  const r = spawnSync('runuser', ['-u', who.name, '--', 'sh', '-c', script], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`as ${who.name}: ${script}: ${r.stderr}`);
}

/** Root's review folder as the step makes it: root's, passable to the account's group, its state/ the account's. */
function reviewPlace(who: Account): { work: string; copied: string } {
  const root = tempDir('rs-root-', null);
  chmodSync(root, 0o755);
  const work = join(root, 'preflight', 'review-tx1');
  mkdirSync(work, { recursive: true, mode: 0o700 });
  for (const dir of [join(root, 'preflight'), work]) {
    chmodSync(dir, 0o710);
    spawnSync('chgrp', [String(who.gid), dir]);
  }
  const copied = join(work, 'state');
  mkdirSync(copied, { mode: 0o700 });
  spawnSync('chown', [`${who.uid}:${who.gid}`, copied]);
  return { work, copied };
}

describeWhere(canUseAccounts(), "the capability review's folder when root acts for the service account", () => {
  it("the user's config outside the copy is copied by the account; linked to a root-only file, root never reads it; the folder is removed, the account's part by the account", async () => {
    const who = serviceAccount();
    const { placeInCopy, removeReviewPlace } = await review();
    const home = tempDir('rs-home-', who);
    const live = join(home, 'openclaw.json');
    asAttacker(who, `echo '{"plugins":{}}' > ${live}`);

    // Control: the account's own config, copied beside the copy by the account.
    const control = reviewPlace(who);
    const { liveConfigAs } = await choice();
    expect(await liveConfigAs(openclawConfigFile, { HOME: home, OPENCLAW_CONFIG_PATH: live }, who)).toBe(live); // found, as the account
    const placed = await placeInCopy(live, { paths: [join(home, 'state')], base: null, ...control, as: who });
    expect(placed).toBe(join(control.work, 'config', 'openclaw.json'));
    expect(readFileSync(placed, 'utf8')).toBe('{"plugins":{}}\n');
    expect([statSync(placed).uid, statSync(join(control.work, 'config')).uid]).toEqual([who.uid, who.uid]);
    await removeReviewPlace(control.work);
    expect(existsSync(control.work)).toBe(false);

    // The attack: the config a link to a root-only file; the copy holds a link to a root-only folder.
    const secret = tempDir('rs-rootonly-', null);
    chmodSync(secret, 0o700);
    const keys = join(secret, 'keys.json');
    writeFileSync(keys, '{"root":"only"}\n', { mode: 0o600 });
    const s = statSync(keys);
    utimesSync(keys, new Date(s.mtimeMs - 3_600_000), s.mtime);
    const atime = statSync(keys).atimeMs;
    asAttacker(who, `rm ${live} && ln -s ${keys} ${live}`);
    const attacked = reviewPlace(who);
    asAttacker(who, `mkdir ${attacked.copied}/sub && ln -s ${secret} ${attacked.copied}/sub/evil`);
    mkdirSync(join(attacked.work, 'finalize'), { mode: 0o700 }); // root's own: finalize's output
    writeFileSync(join(attacked.work, 'finalize', 'tx1.json'), '{}');
    // The lookup of where openclaw keeps it, asked as the account: a link to a root-only file is no config of its
    // (root's own stat would have found it: the control beside).
    const lookedUp = { HOME: home, OPENCLAW_CONFIG_PATH: live };
    expect(await liveConfigAs(openclawConfigFile, lookedUp, who)).toBeNull();
    expect(await liveConfigAs(openclawConfigFile, lookedUp, undefined)).toBe(live);
    expect(statSync(keys).atimeMs).toBe(atime);
    await expect(placeInCopy(live, { paths: [join(home, 'state')], base: null, ...attacked, as: who })).rejects.toThrow(
      /could not be copied/,
    );
    expect(statSync(keys).atimeMs).toBe(atime); // root never opened it
    expect(readdirSync(join(attacked.work, 'config'))).toEqual([]);
    await removeReviewPlace(attacked.work);
    expect(existsSync(attacked.work)).toBe(false);
    expect(readdirSync(secret)).toEqual(['keys.json']);
  });
});
