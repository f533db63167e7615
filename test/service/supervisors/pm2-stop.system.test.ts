// pm2's stop, for a preset's finalize (a migration run while nothing serves) and the checkpoint put back without a
// boot-check: against a real pm2 daemon (the devDependency), a private PM2_HOME per test. What the activation relies
// on: a stopped app stays listed and stopped, a second stop (the way back's, after finalize's) succeeds, and a restart
// starts it again, with the environment it was started with.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { run } from '../../../src/platform/subprocess.ts';
import { pm2Supervisor } from '../../../src/service/supervisors/pm2.ts';
import { STOPPABLE } from '../../../src/service/supervisors/types.ts';
import { freePort, getJson } from '../../support/service.ts';

const PM2 = resolve(import.meta.dirname, '../../../node_modules/.bin/pm2');
const APP = 'rs-pm2-stop-test';
const SERVER = `require('node:http').createServer((req, res) => res.end(JSON.stringify({ pid: process.pid, state: process.env.STATE_DIR })))
  .listen(Number(process.env.PORT), '127.0.0.1');
`;

async function serving(port: number, timeoutMs = 15_000): Promise<{ pid: number; state: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const body = await getJson<{ pid: number; state: string }>(port, '/').catch(() => undefined);
    if (body) return body;
    if (Date.now() > deadline) throw new Error('timed out waiting for the app to serve');
    await new Promise((done) => setTimeout(done, 50));
  }
}

describe('pm2Supervisor stop (real pm2 7)', () => {
  it('stops the app (listed, stopped, twice without harm), and a restart starts it with its environment', async () => {
    // Not tempDir(): the daemon must be killed before its PM2_HOME goes.
    const root = mkdtempSync(join(tmpdir(), 'rs-pm2-stop-'));
    const dir = join(root, 'releases', '1.0.0');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'server.js'), SERVER);
    symlinkSync('releases/1.0.0', join(root, 'current'));
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, PM2_HOME: join(root, 'pm2') };
    onTestFinished(async () => {
      await run(PM2, ['kill'], { env, timeoutMs: 30_000 });
      rmSync(root, { recursive: true, force: true });
    });
    const started = await run(PM2, ['start', join(root, 'current/server.js'), '--name', APP], {
      env: { ...env, PORT: String(port), STATE_DIR: '/srv/state' },
      timeoutMs: 30_000,
    });
    expect(started.exitCode, started.output).toBe(0);
    const first = await serving(port);
    // The adapter runs with the caller's environment, which has neither PORT nor STATE_DIR.
    const supervisor = pm2Supervisor({ app: APP, env, pm2: PM2 });
    expect(STOPPABLE.has(supervisor.name)).toBe(true);

    await supervisor.stop!();
    expect(await supervisor.state()).toMatchObject({ active: false, state: 'stopped', mainPid: null });
    await expect(getJson<{ pid: number; state: string }>(port, '/')).rejects.toThrow();
    // The way back stops again after a failed finalize stopped it: no error, still stopped.
    await supervisor.stop!();
    expect(await supervisor.state()).toMatchObject({ active: false, state: 'stopped' });

    await supervisor.restart();
    const again = await serving(port);
    expect(again.pid).not.toBe(first.pid);
    expect(again.state).toBe('/srv/state');
    expect(await supervisor.state()).toMatchObject({ active: true, state: 'online', mainPid: again.pid });
  });

  it('an app pm2 does not list is SUPERVISOR_FAILED, and nothing is stopped', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rs-pm2-stop-'));
    const env: NodeJS.ProcessEnv = { ...process.env, PM2_HOME: join(root, 'pm2') };
    onTestFinished(async () => {
      await run(PM2, ['kill'], { env, timeoutMs: 30_000 });
      rmSync(root, { recursive: true, force: true });
    });
    await expect(pm2Supervisor({ app: 'no-such-app', env, pm2: PM2 }).stop!()).rejects.toMatchObject({
      code: 'SUPERVISOR_FAILED',
      message: 'pm2 has no app named no-such-app.',
    });
  });
});
