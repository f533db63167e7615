// A rehearsal under systemd whose manager cannot be reached from where the switch runs (no user session: no
// XDG_RUNTIME_DIR bus) is the supervisor's failure, said as one: SUPERVISOR_FAILED with a hint, exit 1, nothing
// flipped, the candidate not marked bad. It was an INTERNAL error with a stack trace ("systemd-run failed: Failed to connect to bus").
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { rs, tempDir, templateRoot } from '../support/cli.ts';

const freshRoot = templateRoot(['1.0.0', '1.1.0']);

it('no reachable user manager: SUPERVISOR_FAILED naming the rehearsal unit and the way round, current untouched', async () => {
  const root = freshRoot();
  const init = await rs(root, [
    'init',
    '--supervisor',
    'systemd',
    '--unit',
    'rs-no-manager.service',
    '--preflight',
    'server.js --port {port}',
    '--preflight-for',
    '1',
    '--health-url',
    'http://127.0.0.1:1/health', // the rehearsal's own port replaces it; it never gets that far here
  ]);
  expect(init.exitCode, init.stdout + init.stderr).toBe(0);
  // A runtime folder with no bus in it: systemd-run --user has no manager to talk to, wherever the suite runs.
  const runtime = tempDir('rs-no-bus-');
  mkdirSync(join(runtime, 'systemd'), { recursive: true });
  const env = { XDG_RUNTIME_DIR: runtime, DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(runtime, 'no-bus')}` };
  const r = await rs(root, ['switch', '1.1.0'], { env });
  expect(r.exitCode, r.stdout + r.stderr).toBe(1);
  expect(r.json.error).toMatchObject({
    code: 'SUPERVISOR_FAILED',
    message: expect.stringMatching(/^The rehearsal could not start its unit \S+ under the user manager/),
    hint: expect.stringContaining('--no-preflight'),
  });
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  const status = await rs(root, ['status']);
  expect(status.json.result.current).toBe('1.0.0');
  expect(status.json.result.transaction).toMatchObject({ status: 'failed' });
  // The environment failed, not the candidate: 1.1.0 is not marked bad.
  const listed = (await rs(root, ['list'])).json.result.releases as { version: string; state: string }[];
  expect(listed.find((release) => release.version === '1.1.0')?.state).toBeDefined();
  expect(listed.find((release) => release.version === '1.1.0')?.state).not.toBe('bad');
}, 120_000);
