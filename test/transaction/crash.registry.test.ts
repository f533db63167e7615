// kill -9 at every journal transition: `current` stays valid, recover settles the root, no staging is left.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rs, templateRoot, tempDir } from '../support/cli.ts';
import { processesIn, snapshotBytes } from '../rehearsal/preflight-support.ts';
import { currentIsValid, linkOf, readState, releaseDirs, stagingEntries } from '../support/root.ts';

/** 1.0.0 current, 1.2.0 installed. */
const freshRoot = templateRoot(['1.0.0', '1.2.0']);

interface Case {
  point: string;
  args: string[];
  /** Where current must point once recover has settled the root. */
  current: string;
  releases: string[];
}

const install = ['install', 'rs-fixture-gateway@1.1.0'];
const cases: Case[] = [
  { point: 'install:begin', args: install, current: '1.0.0', releases: ['1.0.0', '1.2.0'] },
  { point: 'install:extracted', args: install, current: '1.0.0', releases: ['1.0.0', '1.2.0'] },
  { point: 'install:deps-installed', args: install, current: '1.0.0', releases: ['1.0.0', '1.2.0'] },
  { point: 'install:sealed', args: install, current: '1.0.0', releases: ['1.0.0', '1.2.0'] },
  { point: 'install:renamed', args: install, current: '1.0.0', releases: ['1.0.0', '1.1.0', '1.2.0'] },
  { point: 'install:done', args: install, current: '1.0.0', releases: ['1.0.0', '1.1.0', '1.2.0'] },
  { point: 'activate:begin', args: ['switch', '1.2.0'], current: '1.0.0', releases: ['1.0.0', '1.2.0'] },
  { point: 'activate:verified-release', args: ['switch', '1.2.0'], current: '1.0.0', releases: ['1.0.0', '1.2.0'] },
  { point: 'activate:previous-flipped', args: ['switch', '1.2.0'], current: '1.0.0', releases: ['1.0.0', '1.2.0'] },
  { point: 'activate:current-flipped', args: ['switch', '1.2.0'], current: '1.2.0', releases: ['1.0.0', '1.2.0'] },
  { point: 'activate:done', args: ['switch', '1.2.0'], current: '1.2.0', releases: ['1.0.0', '1.2.0'] },
  { point: 'activate:previous-flipped', args: ['rollback', '1.2.0'], current: '1.0.0', releases: ['1.0.0', '1.2.0'] },
  { point: 'activate:current-flipped', args: ['rollback', '1.2.0'], current: '1.2.0', releases: ['1.0.0', '1.2.0'] },
  { point: 'prune:begin', args: ['prune', '--keep', '0'], current: '1.0.0', releases: ['1.0.0', '1.2.0'] },
  { point: 'prune:moved', args: ['prune', '--keep', '0'], current: '1.0.0', releases: ['1.0.0'] },
  { point: 'prune:done', args: ['prune', '--keep', '0'], current: '1.0.0', releases: ['1.0.0'] },
];

async function expectConsistent(root: string, c: Pick<Case, 'current' | 'releases'>): Promise<void> {
  expect(currentIsValid(root)).toBe(true);
  expect(linkOf(root, 'current')).toBe(`releases/${c.current}`);
  expect(stagingEntries(root)).toEqual([]);
  expect(releaseDirs(root)).toEqual(c.releases);
  const state = readState(root);
  expect(state.transaction).toBeNull();
  expect(state.operation).toBeNull();
  expect(Object.keys(state.releases).sort()).toEqual(c.releases);
  // And the root works: everything installed still activates.
  for (const v of c.releases) expect((await rs(root, ['switch', v])).json.ok).toBe(true);
}

describe('crash points', () => {
  it.each(cases)('SIGKILL at $point during $args.0 → recover settles it', async (c) => {
    const root = freshRoot();
    const crashed = await rs(root, c.args, { env: { RELEASE_SWITCHER_CRASH_AT: c.point } });
    expect(crashed.signal, `${c.point} was never reached: ${crashed.stdout}${crashed.stderr}`).toBe('SIGKILL');
    expect(currentIsValid(root)).toBe(true); // even before recovery
    const recovered = await rs(root, ['recover']);
    expect(recovered.exitCode, recovered.stdout + recovered.stderr).toBe(0);
    if (c.point.startsWith('activate:') && c.point !== 'activate:done') {
      const expected = c.current === '1.0.0' ? 'failed' : 'switched';
      expect(recovered.json.result).toMatchObject({ status: expected, to: '1.2.0' });
      expect(recovered.json.result.steps.at(-1).name).toBe('recover');
    }
    await expectConsistent(root, c);
  });

  it('the next mutating command recovers first, without an explicit recover', async () => {
    const root = freshRoot();
    const crashed = await rs(root, ['switch', '1.2.0'], {
      env: { RELEASE_SWITCHER_CRASH_AT: 'activate:previous-flipped' },
    });
    expect(crashed.signal).toBe('SIGKILL');
    const next = await rs(root, install);
    expect(next.exitCode, next.stdout + next.stderr).toBe(0);
    const status = await rs(root, ['status']);
    expect(status.json.result.transaction).toMatchObject({ status: 'failed', reason: 'interrupted' });
    await expectConsistent(root, { current: '1.0.0', releases: ['1.0.0', '1.1.0', '1.2.0'] });
  });

  it('recover removes the temp file of an atomic write killed before its rename', async () => {
    const root = freshRoot();
    writeFileSync(join(root, '.state.json.tmp-4242-0a1b2c3d'), '{"half": ');
    symlinkSync('releases/1.2.0', join(root, '.current.tmp-4242-deadbeef'));
    const r = await rs(root, ['recover']);
    expect(r.exitCode).toBe(0);
    expect(readdirSync(root).filter((n) => n.includes('.tmp-'))).toEqual([]);
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
  });

  it('SIGKILL mid-rehearsal (activate:preflight-running): recover ends the candidate and removes its private state', async () => {
    const root = freshRoot();
    const live = join(tempDir('rs-crash-live-'), 'state');
    mkdirSync(live);
    writeFileSync(join(live, 'state.db'), '{"schema":17}\n');
    const liveBefore = await snapshotBytes(live);
    // No supervisor: the rehearsal runs in a process group of its own (under systemd, a transient unit: preflight-switch.system.test.ts).
    const init = await rs(root, [
      'init',
      '--preflight',
      'server.js --port {port}',
      '--preflight-env',
      'STATE_DIR={state}',
      '--health-url',
      'http://127.0.0.1:9/health',
      '--state-path',
      live,
    ]);
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    const crashed = await rs(root, ['switch', '1.2.0'], {
      env: { RELEASE_SWITCHER_CRASH_AT: 'activate:preflight-running' },
    });
    expect(crashed.signal, `activate:preflight-running was never reached: ${crashed.stdout}${crashed.stderr}`).toBe(
      'SIGKILL',
    );
    const candidate = join(root, 'releases', '1.2.0');
    // The candidate outlived the switcher, with its private copy: recovery has something to do.
    expect(processesIn(candidate).length, 'the candidate runs on after the kill').toBeGreaterThan(0);
    const privateDirs = readdirSync(join(root, 'preflight'));
    expect(privateDirs).toHaveLength(1);
    const recovered = await rs(root, ['recover']);
    expect(recovered.exitCode, recovered.stdout + recovered.stderr).toBe(0);
    expect(recovered.json.result).toMatchObject({ status: 'failed', reason: 'interrupted', to: '1.2.0' });
    expect(processesIn(candidate)).toEqual([]);
    expect(existsSync(join(root, 'preflight', privateDirs[0]!))).toBe(false);
    expect(await snapshotBytes(live)).toEqual(liveBefore);
    expect(readState(root).releases['1.2.0'].state).toBe('installed');
    await expectConsistent(root, { current: '1.0.0', releases: ['1.0.0', '1.2.0'] });
  });

  it('a damaged journal whose rehearsal record names a folder and a process group not ours: recovery touches neither', async () => {
    const root = freshRoot();
    const init = await rs(root, [
      'init',
      '--preflight',
      'server.js --port {port}',
      '--health-url',
      'http://127.0.0.1:9/health',
    ]);
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    const crashed = await rs(root, ['switch', '1.2.0'], {
      env: { RELEASE_SWITCHER_CRASH_AT: 'activate:preflight-running' },
    });
    expect(crashed.signal, `activate:preflight-running was never reached: ${crashed.stdout}${crashed.stderr}`).toBe(
      'SIGKILL',
    );
    const candidate = join(root, 'releases', '1.2.0');
    // Someone else's folder and process group, written into the record as a damaged (or hostile) journal would.
    const elsewhere = tempDir('rs-not-ours-');
    writeFileSync(join(elsewhere, 'keep'), 'mine\n');
    const bystander = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    try {
      const state = readState(root);
      const step = state.transaction.steps.find((s: { name: string }) => s.name === 'preflight');
      const own = step.evidence.record;
      step.evidence.record = { ...own, dir: elsewhere, pgid: bystander.pid, unit: 'dbus.service', scope: 'user' };
      writeFileSync(join(root, 'state.json'), JSON.stringify(state));
      const recovered = await rs(root, ['recover']);
      expect(recovered.exitCode, recovered.stdout + recovered.stderr).toBe(0);
      expect(recovered.json.result).toMatchObject({ status: 'failed', to: '1.2.0' });
      expect(readdirSync(elsewhere)).toEqual(['keep']);
      expect(() => process.kill(bystander.pid!, 0), 'the bystander group was not signalled').not.toThrow();
      // The rehearsal's own folder, derived from its id under the root, is what goes.
      expect(existsSync(join(root, 'preflight', own.id))).toBe(false);
      await expectConsistent(root, { current: '1.0.0', releases: ['1.0.0', '1.2.0'] });
    } finally {
      bystander.kill('SIGKILL');
      for (const pid of processesIn(candidate)) process.kill(pid, 'SIGKILL');
    }
  });

  it('a crash inside recovery itself is settled by the next recovery (recover:begin)', async () => {
    const root = freshRoot();
    expect((await rs(root, install, { env: { RELEASE_SWITCHER_CRASH_AT: 'install:sealed' } })).signal).toBe('SIGKILL');
    expect((await rs(root, ['recover'], { env: { RELEASE_SWITCHER_CRASH_AT: 'recover:begin' } })).signal).toBe(
      'SIGKILL',
    );
    expect((await rs(root, ['recover'])).exitCode).toBe(0);
    await expectConsistent(root, { current: '1.0.0', releases: ['1.0.0', '1.2.0'] });
  });
});
