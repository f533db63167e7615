// kill -9 mid-restore, under a real private systemd --user, through the built CLI: the boot-check (the unit's
// ExecStartPre, which puts the checkpoint back while the service is stopped) is killed at each restore crash point.
// The start does not wait for it (ExecStartPre=-), so the release comes up on state half put back. The runner sees
// the restore's marker left unfinished and restarts once more: that start's boot-check finishes it. When that one is
// killed too, the transaction says so, and `recover` (or any mutating command: recovery runs first) restarts the
// service so its boot-check finishes it. Either way the state ends exactly as the checkpoint holds it.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ManagedGateway, managedGateway } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';

import { runThisFileAsRoot } from '../support/accounts.ts';
runThisFileAsRoot("it plants the service's state (0600 credentials) as root; moving it to the account is still to do");

const can = canRunUserManager();
// The runner makes the checkpoint ready before the stop, so the boot-check swaps it in by rename (snapshot/swap.ts):
// these are that path's points. The copy path's (restore:partial) is killed in restore-crash.registry.test.ts.
const POINTS = ['restore:begin', 'restore:swap-out', 'restore:swap-in'] as const;

/** Every entry below `dir`: a file's content and mode, a folder's mode. */
function treeOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const mode = (statSync(p).mode & 0o777).toString(8);
      if (e.isDirectory()) {
        out[`${relative(dir, p)}/`] = mode;
        walk(p);
      } else out[relative(dir, p)] = `${mode} ${readFileSync(p, 'utf8')}`;
    }
  };
  walk(dir);
  return out;
}

describeWhere(can, 'a restore killed halfway, under systemd --user', () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  let stateDir: string;
  /** Lines of crash points: each boot-check takes the first one, if any, and dies there. */
  let arms: string;
  /** The state as 1.1.0 left it, before the rollback. */
  let newerTree: Record<string, string>;

  /** The state as the older release leaves it: plugins, a credentials file (0600), a config. */
  function olderEra(tag: string): void {
    rmSync(stateDir, { recursive: true, force: true });
    for (let i = 0; i < 12; i++) {
      mkdirSync(join(stateDir, 'plugins', `p${i}`), { recursive: true });
      writeFileSync(join(stateDir, 'plugins', `p${i}`, 'index.js'), `${tag} plugin ${i}`);
    }
    mkdirSync(join(stateDir, 'credentials'), { recursive: true });
    writeFileSync(join(stateDir, 'credentials', 'token.json'), `{"token":"${tag}"}`);
    chmodSync(join(stateDir, 'credentials', 'token.json'), 0o600);
    writeFileSync(join(stateDir, 'config.json'), `{"era":"${tag}"}`);
  }

  /** What the newer release does to it on its first start: rewrites every file, adds a plugin, drops credentials. */
  function newerEra(): void {
    for (let i = 0; i < 12; i++) writeFileSync(join(stateDir, 'plugins', `p${i}`, 'index.js'), `newer plugin ${i}`);
    mkdirSync(join(stateDir, 'plugins', 'added'), { recursive: true });
    writeFileSync(join(stateDir, 'plugins', 'added', 'index.js'), 'newer');
    rmSync(join(stateDir, 'credentials'), { recursive: true });
    writeFileSync(join(stateDir, 'config.json'), '{"era":"newer"}');
  }

  beforeAll(async () => {
    manager = await startUserManager({ name: 'restore-recover' });
    stateDir = join(manager.root, 'gateway-state');
    arms = join(manager.root, 'arms');
    writeFileSync(arms, '');
    // The wrapper arms the crash point for one boot-check per line of `arms` (the runner's own CLI runs unarmed).
    const wrapper = join(manager.root, 'arm.sh');
    writeFileSync(
      wrapper,
      '#!/bin/sh\nf="$1"; shift\nif [ -s "$f" ]; then RELEASE_SWITCHER_CRASH_AT=$(head -n 1 "$f"); export RELEASE_SWITCHER_CRASH_AT; sed -i 1d "$f"; fi\nexec "$@"\n',
    );
    olderEra('init');
    gw = await managedGateway(manager, {
      name: 'rs-restore-recover',
      init: ['--state-path', stateDir],
      verifyTimeout: 8,
      stableFor: 1,
      bootCheck: (command) => ['/bin/sh', wrapper, arms, ...command],
    });
    for (const version of ['1.0.0', '1.1.0'])
      expect((await gw.rs(['install', `rs-fixture-gateway@${version}`])).exitCode).toBe(0);
    expect((await gw.rs(['switch', '1.0.0'])).json.result.status).toBe('verified');
  }, 180_000);
  afterAll(async () => manager?.stop());

  /** 1.0.0 runs on its state; the switch to 1.1.0 checkpoints it; 1.1.0 changes it. Returns the checkpoint's tree. */
  async function checkpointThenChange(tag: string): Promise<{ expected: Record<string, string>; snapshot: string }> {
    olderEra(tag);
    const expected = treeOf(stateDir);
    const up = await gw.rs(['switch', '1.1.0']);
    expect(up.json.result, up.stdout + up.stderr).toMatchObject({ status: 'verified', snapshot: up.json.result.id });
    newerEra();
    newerTree = treeOf(stateDir);
    expect(newerTree).not.toEqual(expected);
    return { expected, snapshot: join(gw.root, 'snapshots', up.json.result.snapshot) };
  }

  const restoreStep = (result: { steps: Array<{ name: string; status: string; detail?: string }> }) =>
    result.steps.find((s) => s.name === 'restore-state');

  it.each(POINTS)(
    'boot-check killed at %s: the runner restarts once more and that start finishes the restore',
    async (point) => {
      const { expected, snapshot } = await checkpointThenChange(`runner-${point}`);
      writeFileSync(arms, `${point}\n`);
      const back = await gw.rs(['rollback']);
      expect(back.exitCode, back.stdout + back.stderr).toBe(0);
      expect(readFileSync(arms, 'utf8')).toBe(''); // the armed boot-check ran (and died: see the step)
      expect(back.json.result).toMatchObject({ kind: 'rollback', status: 'verified', to: '1.0.0' });
      expect(restoreStep(back.json.result)).toMatchObject({
        status: 'ok',
        detail: expect.stringMatching(
          /restore was cut before it finished; restarted once more: snapshot \S+ put back by boot-check/,
        ),
      });
      expect(treeOf(stateDir)).toEqual(expected);
      expect((await gw.health())?.version).toBe('1.0.0');
      expect(existsSync(join(snapshot, 'restoring.json'))).toBe(false);
      // What 1.1.0 left was moved aside whole and is kept as a checkpoint of the rollback.
      expect(restoreStep(back.json.result)?.detail).toContain(`kept as checkpoint ${back.json.result.id}-aside`);
      expect(treeOf(join(gw.root, 'snapshots', `${back.json.result.id}-aside`, 'data', '0'))).toEqual(newerTree);
      const listed = await gw.rs(['checkpoints']);
      expect(listed.json.result.checkpoints).toContainEqual(
        expect.objectContaining({
          id: `${back.json.result.id}-aside`,
          kind: 'set-aside',
          setAsideBy: back.json.result.id,
          fromVersion: '1.1.0',
          toVersion: '1.0.0',
          paths: [stateDir],
        }),
      );
    },
  );

  it.each([
    ['restore:begin', ['recover']],
    ['restore:swap-in', ['pin', '1.0.0']],
  ] as const)(
    'boot-check killed at %s twice: `%s` restarts the service and its boot-check finishes the restore',
    async (point, command) => {
      const { expected, snapshot } = await checkpointThenChange(`recover-${point}`);
      writeFileSync(arms, `${point}\n${point}\n`);
      const back = await gw.rs(['rollback']);
      expect(readFileSync(arms, 'utf8')).toBe('');
      expect(restoreStep(back.json.result), back.stdout + back.stderr).toMatchObject({
        status: 'failed',
        detail: expect.stringMatching(/half put back; release-switcher recover restarts the service/),
      });
      expect(treeOf(stateDir)).not.toEqual(expected); // half (or not yet) put back
      expect(JSON.parse(readFileSync(join(snapshot, 'restoring.json'), 'utf8'))).toMatchObject({
        tx: back.json.result.id,
        version: '1.0.0',
      });

      const recovered = await gw.rs([...command]);
      expect(recovered.exitCode, recovered.stdout + recovered.stderr).toBe(0);
      if (command[0] === 'recover')
        expect(recovered.stderr).toMatch(
          /recover: finished the interrupted restore of snapshot \S+ for 1\.0\.0: restarted .*; 1\.0\.0 healthy after \d+ ms/,
        );
      expect(treeOf(stateDir)).toEqual(expected);
      expect(existsSync(join(snapshot, 'restoring.json'))).toBe(false);
      expect(JSON.parse(readFileSync(join(snapshot, 'restored.json'), 'utf8'))).toMatchObject({
        tx: back.json.result.id,
        by: 'boot-check',
      });
      // Recovery keeps what the swap moved aside, as the runner would have.
      expect(treeOf(join(gw.root, 'snapshots', `${back.json.result.id}-aside`, 'data', '0'))).toEqual(newerTree);
      const active = await manager.systemctl(['show', gw.unit, '--property=ActiveState', '--value']);
      expect(active.stdout.trim()).toBe('active');
      // Recovery returns once the release answers: serving at once, not merely restarted.
      expect((await gw.health())?.version).toBe('1.0.0');
      // Finished once: the next recover finds nothing to do.
      const again = await gw.rs(['recover']);
      expect([again.exitCode, again.json.result]).toEqual([0, null]);
      expect(again.stderr).not.toMatch(/restore/);
    },
  );
});

describeWhere(can, 'bringing back what a rollback set aside (--checkpoint), under systemd --user', () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  let stateDir: string;

  beforeAll(async () => {
    manager = await startUserManager({ name: 'set-aside' });
    stateDir = join(manager.root, 'gateway-state');
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(join(stateDir, 'era.json'), '{"era":"1.0.0 before"}');
    gw = await managedGateway(manager, {
      name: 'rs-set-aside',
      init: ['--state-path', stateDir],
      verifyTimeout: 8,
      stableFor: 1,
    });
    for (const version of ['1.0.0', '1.1.0'])
      expect((await gw.rs(['install', `rs-fixture-gateway@${version}`])).exitCode).toBe(0);
    expect((await gw.rs(['switch', '1.0.0'])).json.result.status).toBe('verified');
  }, 180_000);
  afterAll(async () => manager?.stop());

  it('switch 1.1.0 --checkpoint <rollback>-aside puts back the state 1.1.0 left; a checkpoint of another release or none is refused, nothing changed', async () => {
    const up = await gw.rs(['switch', '1.1.0']);
    expect(up.json.result.status, up.stdout + up.stderr).toBe('verified');
    writeFileSync(join(stateDir, 'era.json'), '{"era":"1.1.0"}');
    mkdirSync(join(stateDir, 'sessions'), { recursive: true });
    writeFileSync(join(stateDir, 'sessions', 'written-by-1.1.0.json'), '{}');
    const leftBy110 = treeOf(stateDir);
    const back = await gw.rs(['rollback']);
    expect(back.json.result.status, back.stdout + back.stderr).toBe('verified');
    const setAside = `${back.json.result.id}-aside`;
    expect(back.json.result.snapshot).toBe(setAside);
    writeFileSync(join(stateDir, 'era.json'), '{"era":"1.0.0 after"}');
    const leftBy100 = treeOf(stateDir);

    // The update's checkpoint holds what 1.0.0 left: not a state for 1.1.0.
    const wrong = await gw.rs(['switch', '1.1.0', '--checkpoint', up.json.result.id]);
    expect([wrong.exitCode, wrong.json.error.code], wrong.stdout + wrong.stderr).toEqual([1, 'CHECKPOINT_MISMATCH']);
    expect(wrong.json.error.hint).toContain('release-switcher checkpoints');
    const missing = await gw.rs(['switch', '1.1.0', '--checkpoint', 'no-such-checkpoint']);
    expect([missing.exitCode, missing.json.error.code]).toEqual([1, 'STATE_SNAPSHOT_MISSING']);
    const traversal = await gw.rs(['switch', '1.1.0', '--checkpoint', '../snapshots']);
    expect([traversal.exitCode, traversal.json.error.code]).toEqual([2, 'USAGE']);
    expect((await gw.health())?.version).toBe('1.0.0');
    expect(treeOf(stateDir)).toEqual(leftBy100);

    const plan = await gw.rs(['switch', '1.1.0', '--checkpoint', setAside, '--dry-run']);
    expect(plan.json.result.state).toMatchObject({ action: 'restore', snapshot: setAside });
    const forward = await gw.rs(['switch', '1.1.0', '--checkpoint', setAside]);
    expect(forward.json.result, forward.stdout + forward.stderr).toMatchObject({
      status: 'verified',
      to: '1.1.0',
      checkpoint: setAside,
      restore: { snapshot: setAside, version: '1.1.0' },
    });
    expect(forward.json.result.steps.find((s: { name: string }) => s.name === 'check-state').detail).toMatch(
      /as asked \(--checkpoint\)/,
    );
    expect(treeOf(stateDir)).toEqual(leftBy110);
    expect((await gw.health())?.version).toBe('1.1.0');
    // And what 1.0.0 wrote after the rollback is kept in turn.
    expect(treeOf(join(gw.root, 'snapshots', `${forward.json.result.id}-aside`, 'data', '0'))).toEqual(leftBy100);
  });
});
