// Whether the running gateway can honour a restart handoff is read from the manager and the process before anything
// is asked (restart-handoff-step.ts supervisedMode): a unit that does not start it in OpenClaw's external mode, or a
// process started before the unit had it, is never asked (it would restart in place, and the request would spend its
// timeout in the stop window). A real systemd --user and its real units; the function is driven in this process, as the
// runner calls it, so the manager is this process's own (root's).
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Config } from '../../src/store/config.ts';
import { OPENCLAW_EXTERNAL_SUPERVISOR } from '../../src/presets/openclaw/index.ts';
import { supervisedMode } from '../../src/transaction/restart-handoff-step.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';
import { describeWhere } from '../support/skip.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';

runThisFileAsRoot("it drives the library in this process (root), so the user manager it reaches must be root's");

describeWhere(canRunUserManager(), 'a restart handoff only where external mode is in force (systemd --user)', () => {
  let um: UserManager;
  beforeAll(async () => {
    um = await startUserManager({ name: 'handoff-mode' });
  }, 60_000);
  afterAll(async () => um?.stop());

  // Type=exec: `systemctl start` returns once the process has exec'd. With the default (simple) it returns after the
  // fork, and /proc/<pid>/environ can still be the manager's own until the exec (seen once in CI: a unit in external
  // mode read as a process started without it).
  const unitText = (environment: string[]) =>
    ['[Service]', 'Type=exec', 'ExecStart=/bin/sleep 600', ...environment.map((e) => `Environment=${e}`), ''].join(
      '\n',
    );
  const external = Object.entries(OPENCLAW_EXTERNAL_SUPERVISOR).map(([key, value]) => `${key}=${value}`);
  const config = (unit: string): Pick<Config, 'unit' | 'supervisor'> => ({ unit, supervisor: 'systemd' });
  const runtime = () => ({ env: um.env, signal: undefined });
  const started = async (unit: string) => {
    expect((await um.systemctl(['start', unit])).exitCode).toBe(0);
    const pid = Number((await um.systemctl(['show', '-p', 'MainPID', '--value', unit])).stdout.trim());
    expect(pid).toBeGreaterThan(0);
    return pid;
  };

  it('a unit and a process in external mode: asked; a unit without it, or a process started before it: not', async () => {
    await um.writeUnit('gw-external.service', unitText(['HOME=/nowhere', ...external]));
    const pid = await started('gw-external.service');
    expect(await supervisedMode(config('gw-external.service'), runtime(), pid, OPENCLAW_EXTERNAL_SUPERVISOR)).toBe(
      true,
    );

    await um.writeUnit('gw-plain.service', unitText(['HOME=/nowhere']));
    const plain = await started('gw-plain.service');
    const why = await supervisedMode(config('gw-plain.service'), runtime(), plain, OPENCLAW_EXTERNAL_SUPERVISOR);
    expect(why).toBe(
      `gw-plain.service does not start the gateway with ${external.join(' ')} (release-switcher unit --install sets it)`,
    );

    // The unit gains it (a drop-in, daemon-reload) while the old process runs on without it.
    await um.writeUnit('gw-plain.service', unitText(['HOME=/nowhere', ...external]));
    const stale = await supervisedMode(config('gw-plain.service'), runtime(), plain, OPENCLAW_EXTERNAL_SUPERVISOR);
    expect(stale).toBe(
      `the running gateway (pid ${plain}) was started without ${external.join(' ')} (before the unit had it: a restart gives it)`,
    );
    // One of the two variables wrong is as good as none.
    await um.writeUnit('gw-half.service', unitText([external[0]!, `${external[1]!.split('=')[0]}=internal`]));
    const half = await started('gw-half.service');
    expect(await supervisedMode(config('gw-half.service'), runtime(), half, OPENCLAW_EXTERNAL_SUPERVISOR)).toMatch(
      /^gw-half\.service does not start the gateway with OPENCLAW_SERVICE_REPAIR_POLICY=external /,
    );
  }, 60_000);
});
