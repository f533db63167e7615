// The service's paths as we see them (service-identity.ts asWeSeeIt): a service whose mount namespace binds a folder
// over its HOME (a unit's BindPaths=, the test harness's temp home over the account's) has its HOME matched to the
// folder that holds it here by device and inode; a path that is the same folder in both views is kept; a HOME found in
// neither way is refused, naming both. A real process in a real private mount namespace (root: unshare -m).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, expect, it } from 'vitest';
import { asWeSeeIt } from '../../src/transaction/service-identity.ts';
import { tempDir } from '../support/cli.ts';
import { describeWhere } from '../support/skip.ts';

const can = {
  ok: process.platform === 'linux' && process.getuid?.() === 0,
  why: 'a private mount namespace (unshare -m) needs root on Linux',
  where: 'in CI, as root on Linux',
};

describeWhere(can, "the service's paths as we see them", () => {
  const stops: Array<() => void> = [];
  afterEach(() => {
    for (const stop of stops.splice(0)) stop();
  });

  /** A process in its own mount namespace where `over` shows what `from` holds. Resolves once the bind is in place. */
  async function bound(from: string, over: string): Promise<number> {
    // `.bound`, written through the bind inside the namespace, lands in `from` here: the bind is in place.
    const script = 'mount --bind "$1" "$2" && touch "$2/.bound" && exec sleep 60';
    const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', from, over], {
      stdio: 'ignore',
    });
    stops.push(() => child.kill('SIGKILL'));
    for (let i = 0; i < 400 && !existsSync(join(from, '.bound')); i += 1) await delay(25);
    if (!existsSync(join(from, '.bound'))) throw new Error('the namespace never bound');
    return child.pid!;
  }

  it('maps a HOME bound over another folder to ours when that is the same folder, keeps paths that agree', async () => {
    const dir = tempDir('rs-identity-');
    const real = join(dir, 'temp-home');
    const accountHome = join(dir, 'account-home');
    const shared = join(dir, 'shared-state');
    for (const d of [real, accountHome, shared]) mkdirSync(d);
    const pid = await bound(real, accountHome);
    const seen = await asWeSeeIt(pid, { HOME: accountHome, OPENCLAW_STATE_DIR: shared, LANG: 'C' }, { HOME: real });
    expect(seen).toEqual({ HOME: real, OPENCLAW_STATE_DIR: shared, LANG: 'C' });
    // Where our own HOME is some other folder, the service's HOME cannot be found from here: refused.
    await expect(asWeSeeIt(pid, { HOME: accountHome }, { HOME: shared })).rejects.toMatchObject({
      code: 'SERVICE_ACCOUNT_UNKNOWN',
      message: expect.stringContaining(accountHome),
    });
    rmSync(join(real, '.bound'), { force: true });
  });

  it('keeps every path of a service in our own namespace as it is', async () => {
    const dir = tempDir('rs-identity-');
    const env = { HOME: dir, OPENCLAW_STATE_DIR: join(dir, '.openclaw') };
    expect(await asWeSeeIt(process.pid, env, { HOME: '/elsewhere' })).toEqual(env);
  });
});
