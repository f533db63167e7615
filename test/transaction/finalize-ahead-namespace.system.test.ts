// Finalize done ahead where the kernel refuses the namespace it runs in (transaction/finalize-ahead-step.ts asks
// service/namespace-probe.ts before it copies anything; a refusal sends finalize into the stop window, the kernel's
// answer kept as the step's evidence). The refusal is the kernel's own: the service's account (the normal test account,
// with its own rights, through runuser) runs the probe inside a user namespace of its own whose limit on further user
// namespaces (/proc/sys/user/max_user_namespaces, per user namespace) is set to 0, its capabilities then dropped, so
// the probe's `unshare --user` fails as on a host with user namespaces off (ENOSPC). The control is the same run
// without the limit: the namespace is made and the probe says so.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { type Account, canUseAccounts, normalAccount } from '../support/accounts.ts';
import { runnableBy, tempDir } from '../support/cli.ts';
import { describeWhere } from '../support/skip.ts';

/** The probe's answer for `live`, asked by `who` in a user namespace of its own, its limit of user namespaces set first. */
function probeAs(who: Account, live: string, limit: number | null): unknown {
  const { node, packageDir } = runnableBy(who);
  const script = join(live, '..', 'probe.mjs');
  writeFileSync(
    script,
    `const { namespaceFor } = await import(${JSON.stringify(join(packageDir, 'dist/service/namespace-probe.js'))});\n` +
      `process.stdout.write(JSON.stringify(await namespaceFor({ copy: process.argv[2], live: process.argv[2] })));\n`,
  );
  chmodSync(script, 0o644);
  const limited = limit === null ? '' : `echo ${limit} > /proc/sys/user/max_user_namespaces || exit 90; `;
  const r = spawnSync(
    'runuser',
    [
      '-u',
      who.name,
      '--',
      'unshare',
      '--user',
      '--map-current-user',
      '--keep-caps',
      'sh',
      '-c',
      // The limit set with the namespace's capabilities, which the probe then runs without, as the account's process.
      `${limited}exec setpriv --inh-caps=-all --ambient-caps=-all --bounding-set=-all -- "$@"`,
      'sh',
      node,
      script,
      live,
    ],
    { encoding: 'utf8', timeout: 60_000, cwd: '/' },
  );
  if (r.status !== 0) throw new Error(`the probe as ${who.name} exited ${r.status}: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout);
}

describeWhere(canUseAccounts(), "finalize ahead's namespace, refused by the kernel for the service's account", () => {
  it('user namespaces limited to 0 for the account: the probe reports the namespace unavailable with the kernel’s reason; control: without the limit it is available', () => {
    const who = normalAccount();
    const live = join(tempDir('rs-ns-', who), 'state');
    mkdirSync(live, { mode: 0o700 });
    chmodSync(live, 0o700);
    spawnSync('chown', [`${who.uid}:${who.gid}`, live]);

    expect(probeAs(who, live, null)).toEqual({ available: true });

    const refused = probeAs(who, live, 0) as { available: boolean; reason: string };
    expect(refused).toEqual({ available: false, reason: expect.stringContaining('No space left on device') });
    expect(refused.reason).toMatch(/^the service's account may not make the mount namespace finalize runs in/);
  });
});
