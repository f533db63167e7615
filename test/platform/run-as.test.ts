// Issue 48 item 2: every command run for the service (the rehearsed candidate, finalize, the database check, the
// handoff, OpenClaw's commands) goes through one decision: unchanged for this process's own account, through setpriv
// with the account's uid, gid and groups when root acts for another, refused for a normal account acting for another.
import { afterEach, expect, it, vi } from 'vitest';
import { isReleaseSwitcherError } from '../../src/model/errors.ts';
import { actsForAnother, commandAs } from '../../src/platform/run-as.ts';

const openclaw = { name: 'openclaw', uid: 990, gid: 985 };
afterEach(() => vi.restoreAllMocks());

it("this process's own account, or nobody named: the command as it is", () => {
  vi.spyOn(process, 'getuid').mockReturnValue(990);
  expect(actsForAnother(openclaw)).toBe(false);
  expect(commandAs('/usr/bin/node', ['server.js', '--port', '1'], openclaw)).toEqual([
    '/usr/bin/node',
    ['server.js', '--port', '1'],
  ]);
  expect(commandAs('/usr/bin/node', ['x'], undefined)).toEqual(['/usr/bin/node', ['x']]);
});

it("root for another account: setpriv (absolute) with that account's uid, gid and supplementary groups, nothing of root's", () => {
  vi.spyOn(process, 'getuid').mockReturnValue(0);
  expect(actsForAnother(openclaw)).toBe(true);
  expect(commandAs('/usr/bin/node', ['server.js'], openclaw)).toEqual([
    '/usr/bin/setpriv',
    ['--reuid', '990', '--regid', '985', '--init-groups', '--', '/usr/bin/node', 'server.js'],
  ]);
});

it('a normal account for another: PERMISSION_DENIED naming the account and how to run it', () => {
  vi.spyOn(process, 'getuid').mockReturnValue(1000);
  let caught: unknown;
  try {
    commandAs('/usr/bin/node', ['server.js'], openclaw);
  } catch (error) {
    caught = error;
  }
  expect(isReleaseSwitcherError(caught) && caught.code).toBe('PERMISSION_DENIED');
  expect((caught as Error & { hint?: string }).hint).toContain('sudo -u openclaw');
});
