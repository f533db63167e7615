// The rehearsal under real pm2: a candidate that crashes (on start, or within the hold) is refused before the flip,
// in its own process group, with the pm2 app's pid and restart count unchanged and nothing of the candidate left.
import { execa } from 'execa';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { MATRIX } from '../../support/fixtures.ts';
import { cli, tempDir } from '../../support/cli.ts';
import { readState } from '../../support/root.ts';
import { describeWhere, onLinux } from '../../support/skip.ts';
import { run } from '../../../src/platform/subprocess.ts';
import { freePort } from '../../support/service.ts';
import { processesIn } from '../preflight-support.ts';

const PM2 = resolve(import.meta.dirname, '../../../node_modules/.bin/pm2');
const APP = 'rs-pm2-pf';

describeWhere(onLinux, 'preflight under real pm2', () => {
  const home = mkdtempSync(join(tmpdir(), 'rs-pm2-pf-home-')); // not tempDir(): pm2 kill must run before it goes
  let root: string;
  let port: number;
  let env: Record<string, string>;
  const rs = (args: string[]) => cli(['--root', root, '--json', ...args], { env });
  const pm2 = (args: string[]) => run(PM2, args, { env: { ...process.env, ...env }, timeoutMs: 60_000 });
  const app = async (): Promise<{ pid: number; restarts: number }> => {
    const list = JSON.parse((await execa(PM2, ['jlist'], { env: { ...process.env, ...env } })).stdout) as Array<{ name: string; pid: number; pm2_env: { restart_time: number } }>;
    const found = list.find((p) => p.name === APP)!;
    return { pid: found.pid, restarts: found.pm2_env.restart_time };
  };

  beforeAll(async () => {
    root = join(tempDir('rs-pm2-pf-'), 'root');
    port = await freePort();
    env = { PM2_HOME: home, PATH: `${dirname(PM2)}:${process.env.PATH}` };
    expect((await rs(['init', '--package', 'rs-fixture-gateway', '--registry', inject('registryUrl')])).exitCode).toBe(0);
    for (const version of ['1.0.0', MATRIX['crash-on-start'], MATRIX['crash-after-3s']]) expect((await rs(['install', `rs-fixture-gateway@${version}`])).exitCode).toBe(0);
    expect((await rs(['switch', '1.0.0'])).json.result.status).toBe('switched');
    const init = await rs([
      'init', '--supervisor', 'pm2', '--unit', APP, '--health-url', `http://127.0.0.1:${port}/health`, '--verify-timeout', '8', '--stable-for', '2',
      '--preflight', 'server.js --port {port}', '--preflight-for', '4',
    ]);
    expect(init.exitCode, init.stdout).toBe(0);
    const started = await pm2(['start', join(root, 'current/server.js'), '--name', APP, '--', '--port', String(port)]);
    expect(started.exitCode, started.output).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await pm2(['kill']);
    rmSync(home, { recursive: true, force: true });
  });

  for (const [behaviour, reason] of [['crash-on-start', 'crashed'], ['crash-after-3s', 'died_in_hold']] as const) {
    it(`refuses a candidate that ${behaviour === 'crash-on-start' ? 'crashes on start' : 'dies within the hold'}: pid and restart_time unchanged`, async () => {
      const bad = MATRIX[behaviour];
      const before = await app();
      expect(before.pid).toBeGreaterThan(0);
      const r = await rs(['switch', bad]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      expect(r.json.error.code).toBe('PREFLIGHT_FAILED');
      expect(r.json.error.message).toContain(`(${reason})`);
      expect(await app()).toEqual(before);
      const health = await fetch(`http://127.0.0.1:${port}/health`).then((res) => res.json());
      expect(health.version).toBe('1.0.0');
      expect(readState(root).releases[bad].state).toBe('bad');
      expect(readState(root).releases[bad].reason).toMatch(new RegExp(`^preflight: ${reason}`));
      expect((await rs(['status'])).json.result.current).toBe('1.0.0');
      expect(processesIn(join(root, 'releases', bad))).toEqual([]);
      expect(readdirSync(join(root, 'preflight'))).toEqual([]);
    }, 60_000);
  }
});
