// The update.run / update.status API, as a gateway's handlers call it, against a real systemd --user.
// It imports the built package (dist/): the runner it hands work to is the built CLI.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWhere } from '../support/skip.ts';
import { requestUpdate, updateStatus, type ProgressEvent } from '../../dist/index.js';
import { cliEnv } from '../support/cli.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';
import { type ManagedGateway, managedGateway } from '../support/service.ts';

import { runThisFileAsRoot } from '../support/accounts.ts';
runThisFileAsRoot("it drives the library in this process (root), so the user manager it reaches must be root's");

const can = canRunUserManager();

describeWhere(can, `update.run and update.status`, () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  let options: { root: string; env: NodeJS.ProcessEnv; npmCache: string };
  const finished = async (id: string) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const status = await updateStatus(options);
      if (status.transaction?.id === id && !status.inFlight) return status;
      if (Date.now() > deadline)
        throw new Error(`transaction ${id} still in flight: ${JSON.stringify(status.transaction)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  beforeAll(async () => {
    manager = await startUserManager({ name: 'api' });
    gw = await managedGateway(manager, { name: 'rs-gw-api', stableFor: 2 });
    expect((await gw.rs(['install', 'rs-fixture-gateway@1.0.0'])).exitCode).toBe(0);
    expect((await gw.rs(['switch', '1.0.0'])).json.result.status).toBe('verified');
    const env = { ...cliEnv(), ...manager.env };
    options = { root: gw.root, env, npmCache: env.npm_config_cache! };
  }, 120_000);
  afterAll(async () => manager?.stop());

  it('update.run returns scheduled at once; the runner stages, switches and verifies; update.status tells the story', async () => {
    const tx = await requestUpdate({ ...options, spec: 'rs-fixture-gateway@1.1.0' });
    expect(tx).toMatchObject({ kind: 'update', status: 'scheduled', from: '1.0.0', to: '1.1.0' });
    expect((await updateStatus(options)).inFlight).toBe(true); // returned before the work was done
    const done = await finished(tx.id);
    expect(done).toMatchObject({ current: '1.1.0', previous: '1.0.0', inFlight: false });
    expect(done.transaction).toMatchObject({ id: tx.id, status: 'verified', from: '1.0.0', to: '1.1.0' });
    const steps = done.transaction!.steps.map((s) => s.name);
    expect(steps).toEqual(expect.arrayContaining(['stage', 'verify-release', 'flip', 'restart', 'verify']));
    expect(done.transaction!.steps.find((s) => s.name === 'stage')!.ms).toBeGreaterThan(0);
    expect(done.transaction!.progress?.phase).toBeTruthy(); // the runner's staging progress was recorded
    expect(
      (done.transaction!.steps.find((s) => s.name === 'verify')!.evidence as { lastVersion: string }).lastVersion,
    ).toBe('1.1.0');
    expect((await gw.health())?.version).toBe('1.1.0');
  });

  it('an update that cannot start fails at once and changes nothing', async () => {
    await expect(requestUpdate({ ...options, spec: 'rs-fixture-gateway@9.9.9' })).rejects.toMatchObject({
      code: 'VERSION_NOT_FOUND',
    });
    expect((await updateStatus(options)).current).toBe('1.1.0');
  });

  it('staging in the caller reports progress and honours an AbortSignal', async () => {
    const controller = new AbortController();
    const events: ProgressEvent[] = [];
    const run = requestUpdate({
      ...options,
      spec: 'rs-fixture-gateway@1.2.0',
      stageIn: 'caller',
      signal: controller.signal,
      onProgress: (event) => {
        events.push(event);
        if (event.phase === 'extract') controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(events.map((e) => e.phase)).toEqual(expect.arrayContaining(['resolve', 'download', 'extract']));
    expect(events.find((e) => e.phase === 'download' && e.done !== undefined)?.unit).toBe('bytes');
    expect(readdirSync(join(gw.root, 'staging'))).toEqual([]);
    expect((await updateStatus(options)).current).toBe('1.1.0');
    // Without the abort, the same call stages here and hands only the switch over.
    const tx = await requestUpdate({ ...options, spec: 'rs-fixture-gateway@1.2.0', stageIn: 'caller' });
    expect(tx.status).toBe('scheduled');
    const done = await finished(tx.id);
    expect(done.transaction).toMatchObject({ status: 'verified', to: '1.2.0' });
  });
});
