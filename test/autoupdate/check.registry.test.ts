// `check` and `auto-update` against the real registry (Verdaccio): dist-tags, deprecations, unpublishing and
// publish times. Tags are moved and versions deprecated only on a package this file publishes itself, never on the
// shared fixtures other test files rely on.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { cli, fixtureRoot, rs, tempDir, templateRoot } from '../support/cli.ts';
import { writeGateway } from '../support/fixture-sources.ts';
import { deprecate, npm } from '../support/registry.ts';
import { publishOwnPackage } from '../support/own-package.ts';
import { linkOf, readState } from '../support/root.ts';

const freshRoot = templateRoot(['1.0.0']);

/** Marks releases good, as verifications under a supervisor would have (supervisor none leaves them pending). */
function markGood(root: string, versions: string[]): void {
  const file = join(root, 'state.json');
  const state = JSON.parse(readFileSync(file, 'utf8'));
  for (const v of versions) state.releases[v].state = 'good';
  writeFileSync(file, JSON.stringify(state, null, 2));
}

describe('check: which version the channel offers', () => {
  it('stable follows latest; beta takes the newer of beta and latest', async () => {
    const root = freshRoot();
    const stable = await rs(root, ['check']);
    expect(stable.exitCode, stable.stdout + stable.stderr).toBe(0);
    expect(stable.json.result).toMatchObject({
      current: '1.0.0',
      channel: 'stable',
      latest: '1.2.0',
      candidate: '1.2.0',
      action: 'update',
      version: '1.2.0',
      rollout: { percent: 100 },
    });
    expect(stable.json.result.rollout.bucket).toBeGreaterThanOrEqual(0);
    expect((await rs(root, ['init', '--channel', 'beta'])).exitCode).toBe(0);
    const beta = await rs(root, ['check']);
    expect(beta.json.result).toMatchObject({
      channel: 'beta',
      latest: '2.0.0-beta.1',
      action: 'update',
      version: '2.0.0-beta.1',
    });
    expect(linkOf(root, 'current')).toBe('releases/1.0.0'); // check never changes anything
  });

  it('up to date: none, exit 0', async () => {
    const root = await fixtureRoot();
    for (const args of [
      ['install', 'rs-fixture-gateway@1.2.0'],
      ['switch', '1.2.0'],
    ])
      expect((await rs(root, args)).exitCode).toBe(0);
    const r = await rs(root, ['check']);
    expect([r.exitCode, r.json.result.action, r.json.result.reason]).toEqual([0, 'none', 'up_to_date']);
  });
});

describe('auto-update', () => {
  it('cooldown: 1000 h → none until eligibleAt; 0 h → updates', async () => {
    const root = freshRoot();
    expect((await rs(root, ['init', '--cooldown-hours', '1000'])).exitCode).toBe(0);
    const checked = await rs(root, ['check']);
    expect(checked.json.result).toMatchObject({ action: 'none', reason: 'cooldown', candidate: '1.2.0' });
    // Eligible 1000 h after the registry's publish time of 1.2.0, plus this host's jitter of at most 1 h. (From the
    // packument, not from now: the seeded registry's storage is prepared once and reused, hours later at times.)
    const packument = (await (
      await fetch(new URL('rs-fixture-gateway', `${inject('registryUrl').replace(/\/$/, '')}/`))
    ).json()) as {
      time: Record<string, string>;
    };
    const wait = Date.parse(checked.json.result.eligibleAt) - Date.parse(packument.time['1.2.0']!);
    expect(wait).toBeGreaterThanOrEqual(1000 * 3_600_000);
    expect(wait).toBeLessThanOrEqual(1001 * 3_600_000);
    const tick = await rs(root, ['auto-update']);
    expect(tick.exitCode, tick.stdout + tick.stderr).toBe(0);
    expect(tick.json.result).toMatchObject({ skipped: 'nothing_to_do', reason: 'cooldown' });
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');

    expect((await rs(root, ['init', '--cooldown-hours', '0'])).exitCode).toBe(0);
    const updated = await rs(root, ['auto-update']);
    expect(updated.exitCode, updated.stdout + updated.stderr).toBe(0);
    expect(updated.json.result).toMatchObject({ kind: 'update', status: 'switched', from: '1.0.0', to: '1.2.0' });
    // The tick's transaction says which channel brought 1.2.0, and where that was decided.
    expect(updated.json.result.channel).toEqual({ channel: 'stable', from: 'the default' });
    // …and that the timer started it, for a newer release on the channel.
    expect(updated.json.result.origin).toMatchObject({
      by: 'timer',
      why: 'newer_version',
      detail: 'update 1.0.0 -> 1.2.0',
    });
    expect(linkOf(root, 'current')).toBe('releases/1.2.0');
    const again = await rs(root, ['auto-update']);
    expect(again.json.result).toMatchObject({ skipped: 'nothing_to_do', reason: 'up_to_date' });
  });

  it("a version refused for want of consent to plugins' capabilities is not reviewed again by each tick", async () => {
    const root = freshRoot();
    // The root's history ends with an update to 1.2.0 its capability review refused, as the review journals one (the
    // refusal itself needs OpenClaw's finalize: capability-review.openclaw.test.ts). An hour ago.
    const file = join(root, 'state.json');
    const state = JSON.parse(readFileSync(file, 'utf8'));
    const refusedAt = new Date(Date.now() - 3_600_000).toISOString();
    state.history.push({
      id: '20261126000000-c0ffee',
      kind: 'update',
      status: 'failed',
      from: '1.0.0',
      to: '1.2.0',
      reason: 'CAPABILITY_CONSENT_REQUIRED',
      startedAt: refusedAt,
      finishedAt: refusedAt,
      steps: [
        {
          name: 'capability-review',
          status: 'failed',
          ms: 70_000,
          detail: "the operator's consent to new capabilities is needed by capability-probe",
          evidence: { plugins: ['capability-probe'], needsConsent: [{ step: 'finalize', plugin: 'capability-probe' }] },
        },
      ],
    });
    writeFileSync(file, JSON.stringify(state, null, 2));
    const checked = await rs(root, ['check']);
    expect(checked.exitCode, checked.stdout + checked.stderr).toBe(0);
    expect(checked.json.result).toMatchObject({ action: 'none', reason: 'consent_required', candidate: '1.2.0' });
    expect(Date.parse(checked.json.result.eligibleAt) - Date.parse(refusedAt)).toBe(24 * 3_600_000);
    expect(checked.json.result.detail).toContain('release-switcher update 1.2.0 --accept-capabilities');
    const tick = await rs(root, ['auto-update']);
    expect(tick.exitCode, tick.stdout + tick.stderr).toBe(0);
    expect(tick.json.result).toMatchObject({ skipped: 'nothing_to_do', reason: 'consent_required' });
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
    expect(readState(root).history).toHaveLength(state.history.length); // no transaction was opened
  });

  it('a host outside the staged rollout does not take it', async () => {
    const root = freshRoot();
    expect((await rs(root, ['init', '--rollout-percent', '0'])).exitCode).toBe(0);
    const tick = await rs(root, ['auto-update']);
    expect([tick.exitCode, tick.json.result.skipped, tick.json.result.reason]).toEqual([0, 'nothing_to_do', 'rollout']);
    // The bucket is a function of the host id and the version: the same for every host named alike.
    expect((await rs(root, ['init', '--rollout-percent', '100', '--host-id', 'fleet-host-7'])).exitCode).toBe(0);
    const a = await rs(root, ['check']);
    const b = await rs(root, ['check']);
    expect(a.json.result.rollout).toEqual(b.json.result.rollout);
  });

  it.each(['RELEASE_SWITCHER_NO_AUTO_UPDATE', 'OPENCLAW_NO_AUTO_UPDATE'])('%s=1 disables it', async (name) => {
    const root = freshRoot();
    const tick = await rs(root, ['auto-update'], { env: { [name]: '1' } });
    expect(tick.exitCode, tick.stdout + tick.stderr).toBe(0);
    expect(tick.json.result).toEqual({ skipped: 'disabled', reason: `${name}=1` });
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
  });

  it('a held lock skips the tick: exit 0, not a failure', async () => {
    const root = freshRoot();
    mkdirSync(join(root, '.lock'));
    writeFileSync(
      join(root, '.lock-owner.json'),
      JSON.stringify({ pid: process.pid, hostname: hostname(), command: 'test', since: new Date().toISOString() }),
    );
    const tick = await rs(root, ['auto-update']);
    expect(tick.exitCode, tick.stdout + tick.stderr).toBe(0);
    expect(tick.json.result).toMatchObject({ skipped: 'busy', check: { action: 'update', version: '1.2.0' } });
    expect(tick.json.result.reason).toMatch(new RegExp(`pid ${process.pid}`));
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
  });
});

describe('pausing the auto-updater (as the root’s own account)', () => {
  it('timer --pause: a tick does nothing and says paused (exit 0); status shows it; --resume: the next tick updates', async () => {
    const root = freshRoot();
    const paused = await rs(root, ['timer', '--pause', '--reason', 'change freeze'], { env: { SUDO_USER: 'alice' } });
    expect(paused.exitCode, paused.stdout + paused.stderr).toBe(0);
    expect(paused.json.result).toEqual({
      paused: true,
      since: expect.any(String),
      user: 'alice',
      reason: 'change freeze',
    });
    const tick = await rs(root, ['auto-update']);
    expect([tick.exitCode, tick.json.result.skipped]).toEqual([0, 'paused']);
    expect(tick.json.result.reason).toBe(
      `paused since ${paused.json.result.since} by alice (change freeze); resume with: release-switcher timer --resume`,
    );
    const said = await cli(['--root', root, 'auto-update']);
    expect([said.exitCode, said.stdout.trim()]).toEqual([
      0,
      `auto-update skipped (paused): ${tick.json.result.reason}`,
    ]);
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
    expect((await rs(root, ['status'])).json.result.autoUpdate).toEqual(paused.json.result);
    // The opt-out variable still wins over everything, paused or not.
    const optedOut = await rs(root, ['auto-update'], { env: { RELEASE_SWITCHER_NO_AUTO_UPDATE: '1' } });
    expect(optedOut.json.result).toEqual({ skipped: 'disabled', reason: 'RELEASE_SWITCHER_NO_AUTO_UPDATE=1' });
    for (const bad of [
      ['--pause', '--resume'],
      ['--install', '--pause'],
      ['--reason', 'no pause'],
    ]) {
      const r = await rs(root, ['timer', ...bad]);
      expect([r.exitCode, r.json.error.code], bad.join(' ')).toEqual([2, 'USAGE']);
    }
    const resumed = await rs(root, ['timer', '--resume']);
    expect([resumed.exitCode, resumed.json.result]).toEqual([0, { paused: false }]);
    const updated = await rs(root, ['auto-update']);
    expect(updated.json.result).toMatchObject({ kind: 'update', to: '1.2.0', origin: { by: 'timer' } });
  });
});

describe('who started a change, and why', () => {
  it("a person's switch, an update that follows the channel, a fleet play's rollback; list and status say it", async () => {
    const root = freshRoot();
    // The template's switch to 1.0.0 was a person's command.
    expect(readState(root).history.at(-1)?.origin).toEqual({
      by: 'command',
      why: 'requested',
      user: expect.any(String),
      detail: 'switch 1.0.0',
    });
    const updated = await rs(root, ['update'], { env: { SUDO_USER: 'alice' } });
    expect(updated.exitCode, updated.stdout + updated.stderr).toBe(0);
    expect(updated.json.result.origin).toEqual({ by: 'command', why: 'channel', user: 'alice', detail: 'update' });
    const fleet = await rs(root, ['rollback'], { env: { RELEASE_SWITCHER_ORIGIN: 'fleet', SUDO_USER: 'ops' } });
    expect(fleet.json.result.origin).toEqual({ by: 'fleet', why: 'requested', user: 'ops', detail: 'rollback' });
    const listed = await rs(root, ['list']);
    expect(listed.json.result.releases.find((r: { version: string }) => r.version === '1.0.0').activatedBy).toEqual({
      by: 'fleet',
      why: 'requested',
      user: 'ops',
      detail: 'rollback',
      transaction: fleet.json.result.id,
      at: fleet.json.result.finishedAt,
    });
    expect((await cli(['--root', root, 'list'])).stdout).toContain(
      `\n1.0.0: current since ${fleet.json.result.finishedAt}, started by a fleet play (the Ansible module) (ops): asked for (rollback)`,
    );
    expect((await cli(['--root', root, 'status'])).stdout).toContain(
      '\nStarted by a fleet play (the Ansible module) (ops): asked for (rollback).\n',
    );
    const bad = await rs(root, ['status'], { env: { RELEASE_SWITCHER_ORIGIN: 'cron' } });
    expect([bad.exitCode, bad.json.error.code]).toEqual([2, 'USAGE']);
  });
});

describe('auto-update leaves a running version the registry withdrew', () => {
  const name = 'rs-au-withdrawn';
  const registry = () => inject('registryUrl');
  let root: string;
  beforeAll(async () => {
    await publishOwnPackage(name, ['1.0.0', '1.1.0', '1.2.0']);
    root = join(tempDir('rs-root-'), 'root');
    expect((await rs(root, ['init', '--package', name, '--registry', registry()])).exitCode).toBe(0);
    for (const v of ['1.0.0', '1.1.0', '1.2.0']) {
      for (const args of [
        ['install', `${name}@${v}`],
        ['switch', v],
      ]) {
        const r = await rs(root, args);
        expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      }
    }
    markGood(root, ['1.0.0', '1.1.0', '1.2.0']);
  }, 120_000);

  it('deprecated: rolls back to the newest good release, and the next tick does not take it again', async () => {
    expect((await rs(root, ['check'])).json.result).toMatchObject({ action: 'none', reason: 'up_to_date' });
    await deprecate(`${name}@1.2.0`, 'broken: use 1.1.0', { registry: registry() });
    const checked = await rs(root, ['check']);
    expect(checked.json.result).toMatchObject({
      current: '1.2.0',
      action: 'rollback',
      version: '1.1.0',
      reason: 'current_deprecated',
    });
    const tick = await rs(root, ['auto-update']);
    expect(tick.exitCode, tick.stdout + tick.stderr).toBe(0);
    expect(tick.json.result).toMatchObject({
      kind: 'rollback',
      status: 'switched',
      from: '1.2.0',
      to: '1.1.0',
      origin: { by: 'timer', why: 'current_deprecated' },
    });
    expect(linkOf(root, 'current')).toBe('releases/1.1.0');
    // `latest` still names the deprecated 1.2.0: never taken again.
    const next = await rs(root, ['auto-update']);
    expect(next.json.result).toMatchObject({ skipped: 'nothing_to_do', reason: 'candidate_deprecated' });
  });

  it('unpublished: rolls back past it to the newest good release the registry still has', async () => {
    await npm(['unpublish', `${name}@1.1.0`, '--force'], { registry: registry() });
    const tick = await rs(root, ['auto-update']);
    expect(tick.exitCode, tick.stdout + tick.stderr).toBe(0);
    expect(tick.json.result).toMatchObject({
      kind: 'rollback',
      status: 'switched',
      from: '1.1.0',
      to: '1.0.0',
      origin: { by: 'timer', why: 'current_unpublished' },
    });
    expect(readState(root).history.at(-1)).toMatchObject({ kind: 'rollback', to: '1.0.0' });
  });
});

describe('auto-update leaves a hotfix installed from a tarball alone', () => {
  it('a .tgz of a version the registry never had is not "unpublished": no rollback', async () => {
    const root = freshRoot();
    const dir = tempDir('rs-au-hotfix-');
    await writeGateway(join(dir, 'src'), {
      name: 'rs-fixture-gateway',
      version: '1.2.1-hotfix.1',
      depRange: '^1.0.0',
      engines: '>=20',
    });
    const { stdout } = await npm(['pack', join(dir, 'src'), '--pack-destination', dir, '--json'], {});
    const tgz = join(dir, (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename);
    for (const args of [
      ['install', tgz],
      ['switch', '1.2.1-hotfix.1'],
    ]) {
      const r = await rs(root, args);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    }
    markGood(root, ['1.0.0', '1.2.1-hotfix.1']);
    const checked = await rs(root, ['check']);
    expect(checked.json.result).toMatchObject({ current: '1.2.1-hotfix.1', action: 'none', reason: 'up_to_date' });
    const tick = await rs(root, ['auto-update']);
    expect(tick.exitCode, tick.stdout + tick.stderr).toBe(0);
    expect(tick.json.result).toMatchObject({ skipped: 'nothing_to_do', reason: 'up_to_date' });
    expect(linkOf(root, 'current')).toBe('releases/1.2.1-hotfix.1');
  });
});
