// The rehearsal under real pm2: a candidate that crashes (on start, or within the hold) is refused before the flip,
// in its own process group, with the pm2 app's pid and restart count unchanged and nothing of the candidate left.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MATRIX } from '../support/fixtures.ts';
import { type Pm2Gateway, pm2Gateway } from '../support/pm2.ts';
import { readState } from '../support/root.ts';
import { describeWhere, onLinux } from '../support/skip.ts';
import { processesIn } from './preflight-support.ts';

describeWhere(onLinux, 'preflight under real pm2', () => {
  let gw: Pm2Gateway;

  beforeAll(async () => {
    gw = await pm2Gateway({
      app: 'rs-pm2-pf',
      versions: ['1.0.0', MATRIX['crash-on-start'], MATRIX['crash-after-3s']],
      init: [
        '--verify-timeout',
        '8',
        '--stable-for',
        '2',
        '--preflight',
        'server.js --port {port}',
        '--preflight-for',
        '4',
      ],
    });
  }, 120_000);

  afterAll(async () => gw?.stop());

  for (const [behaviour, reason] of [
    ['crash-on-start', 'crashed'],
    ['crash-after-3s', 'died_in_hold'],
  ] as const) {
    it(`refuses a candidate that ${behaviour === 'crash-on-start' ? 'crashes on start' : 'dies within the hold'}: pid and restart_time unchanged`, async () => {
      const bad = MATRIX[behaviour];
      const before = await gw.app();
      expect(before.pid).toBeGreaterThan(0);
      const r = await gw.rs(['switch', bad]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      expect(r.json.error.code).toBe('PREFLIGHT_FAILED');
      expect(r.json.error.message).toContain(`(${reason})`);
      expect(await gw.app()).toEqual(before);
      expect((await gw.health()).version).toBe('1.0.0');
      expect(readState(gw.root).releases[bad].state).toBe('bad');
      expect(readState(gw.root).releases[bad].reason).toMatch(new RegExp(`^preflight: ${reason}`));
      expect((await gw.rs(['status'])).json.result.current).toBe('1.0.0');
      expect(processesIn(join(gw.root, 'releases', bad))).toEqual([]);
      expect(readdirSync(join(gw.root, 'preflight'))).toEqual([]);
    }, 60_000);
  }
});
