// Issue 48: a restart that sudo or polkit refuses is told apart from one that failed (service/refusal.ts), in sudo's
// and systemctl's own words, and the supervisor reports it as PERMISSION_DENIED with the line to add.
import { describe, expect, it } from 'vitest';
import { isReleaseSwitcherError } from '../../src/model/errors.ts';
import { isRefusal, polkitRule, refusalIn, sudoersLine } from '../../src/service/refusal.ts';
import { systemdSupervisor } from '../../src/service/supervisors/systemd.ts';

describe('refusals', () => {
  it.each([
    ['sudo: a password is required', 'sudo'],
    ['sudo: a terminal is required to read the password; either use the -S option', 'sudo'],
    ["Sorry, user openclaw is not allowed to execute '/usr/bin/systemctl restart openclaw' as root on h.", 'sudo'],
    ['openclaw is not in the sudoers file.  This incident will be reported.', 'sudo'],
    ['sudo: The "no new privileges" flag is set, which prevents sudo from running as root.', 'sudo'],
    ['Failed to restart openclaw.service: Interactive authentication required.', 'polkit'],
    ['Failed to restart openclaw.service: Access denied', 'polkit'],
  ])('%s: refused by %s', (output, by) => {
    expect(refusalIn(`${output}\nSee system logs and 'systemctl status openclaw.service' for details.`)?.by).toBe(by);
  });

  it.each([
    'Job for openclaw.service failed because the control process exited with error code.',
    'Failed to restart openclaw.service: Unit openclaw.service not found.',
    'Failed to connect to bus: No such file or directory',
    '',
  ])('not a refusal: %s', (output) => {
    expect(refusalIn(output)).toBeUndefined();
  });

  it('the sudoers line names exactly the command sudo -n runs; the polkit rule the unit and verbs', () => {
    const request = {
      account: 'openclaw',
      verbs: ['restart', 'start'],
      unit: 'openclaw',
      systemctl: '/usr/bin/systemctl',
    };
    expect(sudoersLine(request)).toBe(
      'openclaw ALL=(root) NOPASSWD: /usr/bin/systemctl restart openclaw, /usr/bin/systemctl start openclaw',
    );
    expect(polkitRule(request)).toContain('action.lookup("unit") == "openclaw.service"');
    expect(polkitRule(request)).toContain('subject.user == "openclaw"');
  });

  it('the supervisor reports a refused restart as PERMISSION_DENIED with the line to add, a failed one as SUPERVISOR_FAILED', async () => {
    const says = (output: string) =>
      systemdSupervisor({
        unit: 'openclaw',
        scope: 'system',
        env: {},
        timeoutMs: 5_000,
        runner: async () => ({ exitCode: 1, output, timedOut: false }),
      });
    const refused = await says('sudo: a password is required')
      .restart()
      .catch((error: unknown) => error);
    expect(isRefusal(refused)).toBe(true);
    expect(refused).toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringContaining('the service was not touched'),
      hint: expect.stringMatching(
        /NOPASSWD: \/\S*systemctl restart openclaw, \S*systemctl start openclaw, \S*systemctl stop openclaw/,
      ),
      details: { refused: 'sudo', unit: 'openclaw' },
    });
    const failed = await says('Job for openclaw.service failed.')
      .restart()
      .catch((error: unknown) => error);
    expect(isReleaseSwitcherError(failed) && failed.code).toBe('SUPERVISOR_FAILED');
    expect(isRefusal(failed)).toBe(false);
  });
});
