// Telling whether the caller runs inside the supervised service, and reading systemctl show.
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/store/config.ts';
import { detectCallerService, isInsideService, unitFromCgroup } from '../../src/service/caller.ts';
import { parseShow } from '../../src/service/supervisors/systemd.ts';

const userCgroup = '0::/user.slice/user-1000.slice/user@1000.service/app.slice/openclaw-gateway.service\n';
const hybrid =
  '12:pids:/\n1:name=systemd:/rs-systemd-1-x/user@0.service/app.slice/rs-gw.service\n0::/rs-systemd-1-x/user@0.service/app.slice/rs-gw.service\n';
const config = { ...defaultConfig('openclaw'), supervisor: 'systemd' as const, unit: 'openclaw-gateway' };

describe('caller service detection', () => {
  it('reads the unit from /proc/self/cgroup, skipping the user manager itself', () => {
    expect(unitFromCgroup(userCgroup)).toBe('openclaw-gateway.service');
    expect(unitFromCgroup(hybrid)).toBe('rs-gw.service');
    expect(unitFromCgroup('0::/user.slice/user-1000.slice/session-2.scope\n')).toBeNull();
  });

  it('knows systemd (user vs system from the cgroup), pm2 and launchd from the environment', () => {
    expect(detectCallerService({}, userCgroup)).toEqual({ supervisor: 'systemd', unit: 'openclaw-gateway.service' });
    expect(detectCallerService({ INVOCATION_ID: 'x' }, '0::/system.slice/openclaw.service\n')).toEqual({
      supervisor: 'systemd-system',
      unit: 'openclaw.service',
    });
    expect(detectCallerService({ pm_id: '3', name: 'gw' }, '0::/\n')).toEqual({ supervisor: 'pm2', unit: 'gw' });
    expect(detectCallerService({ XPC_SERVICE_NAME: 'ai.openclaw.gateway' }, '')).toEqual({
      supervisor: 'launchd',
      unit: 'ai.openclaw.gateway',
    });
    expect(detectCallerService({}, '0::/user.slice/user-0.slice/session-1.scope\n')).toBeNull();
  });

  it('is inside only when it is the very service the root supervises', () => {
    expect(isInsideService(config, {}, userCgroup)).toBe(true);
    expect(
      isInsideService(
        config,
        {},
        '0::/user.slice/user-1000.slice/user@1000.service/app.slice/release-switcher-1.service\n',
      ),
    ).toBe(false);
    expect(isInsideService({ ...config, supervisor: 'none' }, {}, userCgroup)).toBe(false);
  });
});

describe('systemctl show', () => {
  it('parses a crash-looping unit and an exit 78', () => {
    expect(
      parseShow(
        'ActiveState=activating\nSubState=auto-restart\nMainPID=0\nNRestarts=4\nExecMainStatus=1\nExecMainCode=1\nResult=exit-code\n',
      ),
    ).toEqual({
      active: false,
      state: 'activating/auto-restart',
      mainPid: null,
      restarts: 4,
      exitStatus: 1,
      processes: { pids: [] },
      detail: 'Result=exit-code',
    });
    expect(
      parseShow(
        'ActiveState=failed\nSubState=failed\nMainPID=0\nNRestarts=0\nExecMainStatus=78\nExecMainCode=1\nResult=exit-code\n',
      ).exitStatus,
    ).toBe(78);
    expect(
      parseShow(
        'ActiveState=active\nSubState=running\nMainPID=42\nNRestarts=0\nExecMainStatus=0\nExecMainCode=0\nResult=success\n',
      ),
    ).toEqual({
      active: true,
      state: 'active/running',
      mainPid: 42,
      restarts: 0,
      exitStatus: null,
      processes: { pids: [42] },
    });
  });

  it("names the unit's control group as its processes, when shown, beside its main PID (listener-owner.ts: a fallback)", () => {
    const cg = '/user.slice/user-1000.slice/user@1000.service/app.slice/gw.service';
    expect(parseShow(`ActiveState=active\nSubState=running\nMainPID=42\nControlGroup=${cg}\n`).processes).toEqual({
      pids: [42],
      cgroup: cg,
    });
  });
});
