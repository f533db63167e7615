// release-switcher end to end with real pm2: a good release is verified, a crashing one rolled back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MATRIX } from '../../support/fixtures.ts';
import { cli, tempDir } from '../../support/cli.ts';
import { readState } from '../../support/root.ts';
import { run } from '../../../src/platform/subprocess.ts';
import { freePort } from '../../support/service.ts';

const PM2 = resolve(import.meta.dirname, '../../../node_modules/.bin/pm2');
const APP = 'rs-pm2-gw';

describe('switch under real pm2', () => {
  const home = mkdtempSync(join(tmpdir(), 'rs-pm2-home-')); // not tempDir(): pm2 kill must run before it goes
  let root: string;
  let port: number;
  let env: Record<string, string>;
  const rs = (args: string[]) => cli(['--root', root, '--json', ...args], { env });
  const pm2 = (args: string[]) => run(PM2, args, { env: { ...process.env, ...env }, timeoutMs: 60_000 });

  beforeAll(async () => {
    root = join(tempDir('rs-pm2-'), 'root');
    port = await freePort();
    env = { PM2_HOME: home, PATH: `${dirname(PM2)}:${process.env.PATH}` };
    expect((await rs(['init', '--package', 'rs-fixture-gateway', '--registry', inject('registryUrl')])).exitCode).toBe(0);
    for (const version of ['1.0.0', '1.1.0', MATRIX['crash-on-start']]) expect((await rs(['install', `rs-fixture-gateway@${version}`])).exitCode).toBe(0);
    // The operator's first steps: activate a release on disk, start the app through current/, then
    // hand the root to the supervisor.
    expect((await rs(['switch', '1.0.0'])).json.result.status).toBe('switched');
    const init = await rs(['init', '--supervisor', 'pm2', '--unit', APP, '--health-url', `http://127.0.0.1:${port}/health`, '--verify-timeout', '8', '--stable-for', '3']);
    expect(init.exitCode, init.stdout).toBe(0);
    const started = await pm2(['start', join(root, 'current/server.js'), '--name', APP, '--', '--port', String(port)]);
    expect(started.exitCode, started.output).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await pm2(['kill']);
    rmSync(home, { recursive: true, force: true });
  });

  it('switch to a good release restarts the pm2 app and verifies it', async () => {
    const r = await rs(['switch', '1.1.0']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result).toMatchObject({ status: 'verified', from: '1.0.0', to: '1.1.0' });
    const health = await fetch(`http://127.0.0.1:${port}/health`).then((res) => res.json());
    expect(health.version).toBe('1.1.0');
  });

  it('a release that crashes on start is rolled back and the previous one serves again', async () => {
    const bad = MATRIX['crash-on-start'];
    const r = await rs(['switch', bad]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(3);
    expect(r.json.result).toMatchObject({ status: 'rolled_back', to: bad, reason: 'crashed' });
    const health = await fetch(`http://127.0.0.1:${port}/health`).then((res) => res.json());
    expect(health.version).toBe('1.1.0');
    expect(readState(root).releases[bad].state).toBe('bad');
  });
});
