// The OpenClaw plugin on the real thing: openclaw 2026.9.5 on Node 24 served from a release-switcher root under a
// private systemd --user, the plugin installed by `openclaw plugins install <folder>` (gateway.ts). Through
// OpenClaw's own surfaces: its CLI (`openclaw releases …`), its gateway RPC (`openclaw gateway call releases.*`,
// authenticated with the configured token; a call without it is refused) and its chat command dispatcher
// (`chat.send` of `/releases …`, the reply and the post-restart report read back with `chat.history`).
// An update and a rollback asked inside the gateway answer `scheduled` at once; the runner outside the unit's
// cgroup restarts the gateway, and `releases.status` asked of the new process reports `verified`.
//
//   npm run build && npx vitest run test/integrations/openclaw/plugin.openclaw.test.ts
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openclawHealthy, removeOpenclawBench } from '../../support/openclaw.ts';
import { describeWhere } from '../../support/skip.ts';
import { canRunUserManager } from '../../support/systemd.ts';
import { type PluginGateway, TOKEN, startPluginGateway } from './gateway.ts';

const FROM = '2026.9.5';
const TO = '2026.9.6';
const can = canRunUserManager();

describeWhere(
  can,
  'the OpenClaw plugin in a real gateway (openclaw 2026.9.5 → 2026.9.6, private systemd --user)',
  () => {
    let gw: PluginGateway;
    const work = mkdtempSync(path.join(tmpdir(), 'rs-ocplugin-'));

    beforeAll(async () => {
      console.log(`load average at start: ${loadavg()[0]!.toFixed(1)}`);
      gw = await startPluginGateway({ work, from: FROM, to: TO });
    }, 2_400_000);

    afterAll(() => removeOpenclawBench(gw?.um, work), 120_000);

    /** `openclaw gateway call METHOD --params JSON --json`: the method's payload, or the call's failure. */
    const call = async (method: string, params: object = {}, env: Record<string, string> = {}) => {
      const r = await gw.openclaw(['gateway', 'call', method, '--params', JSON.stringify(params), '--json'], { env });
      let json: any;
      try {
        json = JSON.parse(r.stdout);
      } catch {
        json = undefined;
      }
      return { ...r, json };
    };

    /** Waits until /startupz answers from a process other than `pid` reporting `version`; then the status from it. */
    const servedBy = async (pid: number, version: string) => {
      const healthy = await openclawHealthy(gw.um, { port: gw.port, pid, timeoutMs: 300_000 });
      expect(healthy.version).toBe(version);
      return healthy.pid;
    };

    /** Polls releases.status on the serving gateway until transaction `id` is finished; returns that status. */
    const finished = async (id: string) => {
      const deadline = Date.now() + 300_000;
      for (;;) {
        const status = await call('releases.status');
        const tx = status.json?.transaction;
        if (tx?.id === id && tx.finishedAt) return status.json;
        if (Date.now() > deadline) throw new Error(`transaction ${id} never finished: ${JSON.stringify(status.json)}`);
        await new Promise((r) => setTimeout(r, 2_000));
      }
    };

    it('openclaw releases list --json prints what release-switcher list --json prints', async () => {
      const ours = await gw.openclaw(['releases', 'list', '--json']);
      const theirs = await gw.rs(['list']);
      expect(ours.exitCode, ours.stderr).toBe(0);
      expect(JSON.parse(ours.stdout)).toEqual(theirs.json);
      expect(theirs.json.result.current).toBe(FROM);
      expect(theirs.json.result.releases.map((r: any) => r.version).sort()).toEqual([FROM, TO]);
    }, 300_000);

    it('explore', async () => {
      console.log(JSON.stringify(await call('releases.status')).slice(0, 3000));
      console.log(
        JSON.stringify(await call('releases.status', {}, { OPENCLAW_GATEWAY_TOKEN: 'wrong' })).slice(0, 3000),
      );
      console.log(
        JSON.stringify(
          await call('chat.send', { sessionKey: 'main', message: '/releases status', idempotencyKey: 'k1' }),
        ),
      );
      await new Promise((r) => setTimeout(r, 3000));
      console.log(JSON.stringify(await call('chat.history', { sessionKey: 'main' })).slice(0, 5000));
      console.log(TOKEN.length, FROM, servedBy.name, finished.name);
    }, 300_000);
  },
);
