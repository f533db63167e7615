// The auto-update timer: the units it prints (anywhere), and under a real private systemd --user a timer that fires
// at a short interval and performs a verified update on its own, then is removed; a tick of a paused root that does
// nothing, and once resumed the rollback a deprecation asks for; each change saying who started it and why.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWhere } from '../support/skip.ts';
import { fixtureRoot, rs } from '../support/cli.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';
import { type ManagedGateway, managedGateway } from '../support/service.ts';
import { cli } from '../support/cli.ts';
import { publishOwnPackage } from '../support/own-package.ts';
import { deprecate } from '../support/registry.ts';
import { inject } from 'vitest';
import type { Transaction } from '../../src/model/state.ts';

const can = canRunUserManager();

describe('timer (printed)', () => {
  it('systemd: a oneshot service running auto-update and an hourly, persistent, randomized timer', async () => {
    const root = await fixtureRoot(['--supervisor', 'systemd', '--unit', 'my-gw.service']);
    const home = '/opt/rs-tool-home';
    const r = await rs(root, ['timer'], { env: { XDG_CONFIG_HOME: '/cfg', RELEASE_SWITCHER_TOOL_HOME: home } });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result).toMatchObject({
      kind: 'systemd',
      scope: 'user',
      name: 'release-switcher-auto-update-my-gw.timer',
      installed: false,
      removed: false,
    });
    const [service, timer] = r.json.result.files;
    expect(service.path).toBe('/cfg/systemd/user/release-switcher-auto-update-my-gw.service');
    expect(service.content).toMatch(/^Type=oneshot$/m);
    // release-switcher's pinned copy through its tool home's link (src/tool/), not npm's path; printing makes nothing.
    expect(service.content).toMatch(
      new RegExp(
        `^ExecStart=${home}/current/node ${home}/current/package/dist/cli/main\\.js --root ${root} auto-update$`,
        'm',
      ),
    );
    expect(existsSync(home)).toBe(false);
    expect(timer.path).toBe('/cfg/systemd/user/release-switcher-auto-update-my-gw.timer');
    for (const line of [
      'OnCalendar=hourly',
      'Persistent=true',
      'RandomizedDelaySec=1h',
      'Unit=release-switcher-auto-update-my-gw.service',
      'WantedBy=timers.target',
    ]) {
      expect(timer.content.split('\n')).toContain(line);
    }
  });

  it('--every: a span is monotonic (OnActiveSec + OnUnitActiveSec, delay at most the span), a calendar persistent', async () => {
    const root = await fixtureRoot(['--supervisor', 'systemd-system', '--unit', 'gw']);
    const span = await rs(root, ['timer', '--every', '15min']);
    const timer = span.json.result.files[1];
    expect(timer.path).toBe('/etc/systemd/system/release-switcher-auto-update-gw.timer');
    expect(timer.content).toMatch(/^OnActiveSec=15min\nOnUnitActiveSec=15min\nRandomizedDelaySec=15min$/m);
    expect(timer.content).not.toMatch(/Persistent/);
    expect(span.json.result.files[0].content).toMatch(/^After=network-online\.target$/m);
    const calendar = await rs(root, ['timer', '--every', '*:0/15', '--randomized-delay', '5min']);
    expect(calendar.json.result.files[1].content).toMatch(
      /^OnCalendar=\*:0\/15\nPersistent=true\nRandomizedDelaySec=5min$/m,
    );
    for (const bad of [
      ['--every', '0s'],
      ['--randomized-delay', 'soon'],
      ['--install', '--remove'],
    ]) {
      const r = await rs(root, ['timer', ...bad]);
      expect([r.exitCode, r.json.error.code]).toEqual([2, 'USAGE']);
    }
  });

  it('launchd: a plist with StartInterval, printed only', async () => {
    const root = await fixtureRoot(['--supervisor', 'launchd', '--unit', 'ai.example.gateway']);
    const r = await rs(root, ['timer', '--every', '30min'], { env: { HOME: '/Users/me' } });
    expect(r.json.result).toMatchObject({
      kind: 'launchd',
      name: 'org.release-switcher.auto-update.ai.example.gateway',
    });
    const [plist] = r.json.result.files;
    expect(plist.path).toBe('/Users/me/Library/LaunchAgents/org.release-switcher.auto-update.ai.example.gateway.plist');
    expect(plist.content).toMatch(/<key>StartInterval<\/key>\n\s*<integer>1800<\/integer>/);
    expect(plist.content).toMatch(/<key>KeepAlive<\/key>\n\s*<false\/>/);
    expect(plist.content).toMatch(/<string>auto-update<\/string>/);
    const install = await rs(root, ['timer', '--install']);
    expect([install.exitCode, install.json.error.code]).toEqual([1, 'UNSUPPORTED']);
  });
});

describeWhere(can, `timer under systemd --user`, () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  // A package of this file's own: the last test deprecates its 1.2.0 (the shared fixtures are never deprecated).
  const PKG = 'rs-au-timer';
  beforeAll(async () => {
    await publishOwnPackage(PKG, ['1.0.0', '1.2.0']);
    manager = await startUserManager({ name: 'timer' });
    gw = await managedGateway(manager, { name: 'rs-gw-timer', stableFor: 2, package: PKG });
    for (const args of [
      ['install', `${PKG}@1.0.0`],
      ['switch', '1.0.0'],
    ]) {
      const r = await gw.rs(args);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    }
    expect((await gw.health())?.version).toBe('1.0.0');
  }, 120_000);
  afterAll(async () => manager?.stop());

  it('fires at a short interval and performs a verified update to latest; --remove removes it', async () => {
    const stem = 'release-switcher-auto-update-rs-gw-timer';
    // A drop-in of the test's own: the private manager has no journal, so the ticks' output goes to a file.
    const tickLog = join(gw.root, '..', 'ticks.log');
    mkdirSync(join(manager.unitDir, `${stem}.service.d`), { recursive: true });
    writeFileSync(
      join(manager.unitDir, `${stem}.service.d`, 'log.conf'),
      `[Service]\nStandardOutput=append:${tickLog}\nStandardError=append:${tickLog}\n`,
    );

    const installed = await gw.rs(['timer', '--install', '--every', '2s', '--randomized-delay', '0']);
    expect(installed.exitCode, installed.stdout + installed.stderr).toBe(0);
    expect(installed.json.result).toMatchObject({ name: `${stem}.timer`, installed: true });
    expect((await manager.systemctl(['is-enabled', `${stem}.timer`])).stdout.trim()).toBe('enabled');
    expect((await manager.systemctl(['is-active', `${stem}.timer`])).stdout.trim()).toBe('active');

    let tx: Transaction | undefined;
    await manager.waitFor(
      async () => {
        tx = (await gw.rs(['status'])).json?.result?.transaction;
        return tx?.kind === 'update' && !!tx.finishedAt;
      },
      { timeoutMs: 90_000, intervalMs: 500, what: `a verified update by the timer (ticks: ${tickLog})` },
    );
    expect(tx, readFileSync(tickLog, 'utf8')).toMatchObject({
      kind: 'update',
      status: 'verified',
      from: '1.0.0',
      to: '1.2.0',
    });
    expect(tx.steps.at(-1)).toMatchObject({ name: 'verify', status: 'ok', evidence: { lastVersion: '1.2.0' } });
    expect((await gw.health())?.version).toBe('1.2.0');
    // Who started it and why: the timer, for a newer release on the channel, in the JSON and in status's words.
    expect(tx.origin).toEqual({
      by: 'timer',
      why: 'newer_version',
      user: manager.account?.name ?? userInfo().username,
      detail: 'update 1.0.0 -> 1.2.0',
    });
    const told = await gw.rs(['status'], { json: false });
    expect(told.stdout).toContain(
      `\nStarted by the auto-update timer (${tx.origin!.user}): a newer release on the channel (update 1.0.0 -> 1.2.0).`,
    );
    // It keeps ticking, and a tick with nothing to do succeeds.
    const lastTrigger = async () =>
      (
        await manager.systemctl(['show', `${stem}.timer`, '--property=LastTriggerUSecMonotonic', '--value'])
      ).stdout.trim();
    const before = await lastTrigger();
    await manager.waitFor(async () => (await lastTrigger()) !== before, { timeoutMs: 15_000, what: 'another tick' });
    await manager.waitFor(
      async () => (await manager.systemctl(['is-active', `${stem}.service`])).stdout.trim() !== 'activating',
      { timeoutMs: 15_000, what: 'the tick to end' },
    );
    const service = await manager.systemctl([
      'show',
      `${stem}.service`,
      '--property=Result',
      '--property=ExecMainStatus',
    ]);
    expect(service.stdout).toMatch(/Result=success/);
    expect(service.stdout).toMatch(/ExecMainStatus=0/);

    const removed = await gw.rs(['timer', '--remove']);
    expect(removed.exitCode, removed.stdout + removed.stderr).toBe(0);
    expect(removed.json.result).toMatchObject({ removed: true });
    for (const file of removed.json.result.files) expect(existsSync(file.path)).toBe(false);
    expect((await manager.systemctl(['is-active', `${stem}.timer`])).stdout.trim()).toBe('inactive');
    expect((await manager.systemctl(['is-enabled', `${stem}.timer`])).stdout.trim()).not.toBe('enabled');
    const again = await gw.rs(['timer', '--remove']);
    expect(again.json.result).toMatchObject({ removed: false });
  }, 150_000);

  it('a tick that hands its update to a runner (scheduled) ends the oneshot unit with success; the runner verifies', async () => {
    const stem = 'release-switcher-auto-update-rs-gw-timer';
    // Back on 1.0.0: the channel's 1.2.0 is an update again.
    const back = await gw.rs(['switch', '1.0.0']);
    expect(back.exitCode, back.stdout + back.stderr).toBe(0);
    // The units with a long interval (the test starts the tick itself), the tick handed off as from inside the
    // service (--handoff always), its envelope written to a file (the private manager has no journal).
    const installed = await gw.rs(['timer', '--install', '--every', '1h', '--randomized-delay', '0']);
    expect(installed.exitCode, installed.stdout + installed.stderr).toBe(0);
    const execStart = /^ExecStart=(.+)$/m.exec(installed.json.result.files[0].content)![1];
    const tickLog = join(gw.root, '..', 'scheduled-tick.log');
    mkdirSync(join(manager.unitDir, `${stem}.service.d`), { recursive: true });
    writeFileSync(
      join(manager.unitDir, `${stem}.service.d`, 'scheduled.conf'),
      `[Service]\nExecStart=\nExecStart=${execStart} --json --handoff always\nStandardOutput=append:${tickLog}\nStandardError=append:${tickLog}\n`,
    );
    expect((await manager.systemctl(['daemon-reload'])).exitCode).toBe(0);

    // `systemctl start` of a oneshot unit returns when its ExecStart= has exited, and fails when the unit failed.
    const tick = await manager.systemctl(['start', `${stem}.service`], { timeoutMs: 90_000 });
    const log = () => (existsSync(tickLog) ? readFileSync(tickLog, 'utf8') : '(no output)');
    expect(tick.exitCode, `${tick.stderr}\n${log()}`).toBe(0);
    const shown = await manager.systemctl([
      'show',
      `${stem}.service`,
      '--property=Result',
      '--property=ExecMainStatus',
    ]);
    expect(shown.stdout).toMatch(/^Result=success$/m);
    expect(shown.stdout).toMatch(/^ExecMainStatus=0$/m);
    const envelope = JSON.parse(
      log()
        .split('\n')
        .find((line) => line.startsWith('{'))!,
    );
    expect(envelope).toMatchObject({
      ok: true,
      result: { kind: 'update', status: 'scheduled', from: '1.0.0', to: '1.2.0' },
    });

    let tx: Transaction | undefined;
    await manager.waitFor(
      async () => {
        tx = (await gw.rs(['status'])).json?.result?.transaction;
        return tx?.id === envelope.result.id && !!tx.finishedAt;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: `the runner's verdict (tick: ${tickLog})` },
    );
    expect(tx).toMatchObject({ status: 'verified', to: '1.2.0', origin: { by: 'timer', why: 'newer_version' } });
    expect((await gw.health())?.version).toBe('1.2.0');
    expect((await gw.rs(['timer', '--remove'])).json.result).toMatchObject({ removed: true });
  }, 150_000);

  it("paused (by the account; root's pause on its root refused): a tick does nothing and says so; resumed, it leaves the deprecated 1.2.0", async () => {
    const stem = 'release-switcher-auto-update-rs-gw-timer';
    await deprecate(`${PKG}@1.2.0`, 'broken: use 1.0.0', { registry: inject('registryUrl') });
    // The control: what a tick would do now.
    expect((await gw.rs(['check'])).json.result).toMatchObject({
      current: '1.2.0',
      action: 'rollback',
      version: '1.0.0',
      reason: 'current_deprecated',
    });
    const installed = await gw.rs(['timer', '--install', '--every', '1h', '--randomized-delay', '0']);
    expect(installed.exitCode, installed.stdout + installed.stderr).toBe(0);
    const execStart = /^ExecStart=(.+)$/m.exec(installed.json.result.files[0].content)![1];
    const tickLog = join(gw.root, '..', 'paused-tick.log');
    // The same drop-in name as the test before, so its --handoff always is replaced: this tick runs in the unit.
    mkdirSync(join(manager.unitDir, `${stem}.service.d`), { recursive: true });
    writeFileSync(
      join(manager.unitDir, `${stem}.service.d`, 'scheduled.conf'),
      `[Service]\nExecStart=\nExecStart=${execStart} --json\nStandardOutput=append:${tickLog}\nStandardError=append:${tickLog}\n`,
    );
    expect((await manager.systemctl(['daemon-reload'])).exitCode).toBe(0);
    const envelopes = () =>
      (existsSync(tickLog) ? readFileSync(tickLog, 'utf8') : '')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line));
    const tick = async () => {
      const started = await manager.systemctl(['start', `${stem}.service`], { timeoutMs: 90_000 });
      expect(started.exitCode, `${started.stderr}\n${envelopes().length} envelopes in ${tickLog}`).toBe(0);
      return envelopes().at(-1);
    };

    // Root does not act on the account's root (one owner; a case about root: as the test process): refused before
    // anything is written, naming the command to run as the account.
    if (manager.account) {
      const byRoot = await cli(['--root', gw.root, '--json', 'timer', '--pause', '--reason', 'change freeze'], {
        as: null,
      });
      expect(byRoot.exitCode, byRoot.stdout + byRoot.stderr).toBe(1);
      expect(byRoot.json.error).toMatchObject({
        code: 'PERMISSION_DENIED',
        hint: expect.stringContaining(`sudo -u ${manager.account.name} release-switcher`),
      });
      expect(existsSync(join(gw.root, 'auto-update-paused.json'))).toBe(false);
    }
    // The account pauses its own root; its own tick reads it.
    const paused = await gw.rs(['timer', '--pause', '--reason', 'change freeze']);
    expect(paused.exitCode, paused.stdout + paused.stderr).toBe(0);
    expect(paused.json.result).toMatchObject({ paused: true, user: expect.any(String), reason: 'change freeze' });
    if (manager.account) expect(statSync(join(gw.root, 'auto-update-paused.json')).uid).toBe(manager.account.uid);
    const status = await gw.rs(['status']);
    expect(status.json.result.autoUpdate).toEqual({ ...paused.json.result, paused: true });
    expect((await gw.rs(['status'], { json: false })).stdout).toMatch(
      /^Auto-update is PAUSED since \S+ by \S+ \(change freeze\): ticks do nothing until release-switcher timer --resume\.$/m,
    );
    const before = status.json.result.transaction.id;
    const skipped = await tick();
    expect(skipped).toMatchObject({ ok: true, result: { skipped: 'paused' } });
    expect(skipped.result.reason).toMatch(
      /^paused since \S+ by \S+ \(change freeze\); resume with: release-switcher timer --resume$/,
    );
    expect((await gw.rs(['status'])).json.result.transaction.id).toBe(before);
    expect((await gw.health())?.version).toBe('1.2.0');

    // The account resumes it; the next tick rolls back, verified, and says why.
    const resumed = await gw.rs(['timer', '--resume']);
    expect([resumed.exitCode, resumed.json.result]).toEqual([0, { paused: false }]);
    expect((await gw.rs(['status'])).json.result.autoUpdate).toEqual({ paused: false });
    const rolled = await tick();
    expect(rolled).toMatchObject({
      ok: true,
      result: {
        kind: 'rollback',
        status: 'verified',
        from: '1.2.0',
        to: '1.0.0',
        origin: { by: 'timer', why: 'current_deprecated' },
      },
    });
    expect(rolled.result.origin.detail).toBe(
      '1.2.0 is deprecated on the registry: roll back to 1.0.0, the newest good release',
    );
    expect((await gw.health())?.version).toBe('1.0.0');
    const told = (await gw.rs(['status'], { json: false })).stdout;
    expect(told).toContain(
      `\nStarted by the auto-update timer (${rolled.result.origin.user}): the running release was deprecated on the registry (1.2.0 is deprecated on the registry: roll back to 1.0.0, the newest good release).`,
    );
    expect(told).not.toMatch(/PAUSED/);
    const listed = await gw.rs(['list']);
    expect(
      listed.json.result.releases.find((r: { version: string }) => r.version === '1.0.0').activatedBy,
    ).toMatchObject({
      by: 'timer',
      why: 'current_deprecated',
      transaction: rolled.result.id,
    });
    expect((await gw.rs(['list'], { json: false })).stdout).toMatch(
      /^1\.0\.0: current since \S+, started by the auto-update timer \(\S+\): the running release was deprecated on the registry/m,
    );
    expect((await gw.rs(['timer', '--remove'])).json.result).toMatchObject({ removed: true });
  }, 200_000);

  it('a tick whose update rolled back exits 3 and leaves its unit failed, until the next tick (nothing to do) exits 0', async () => {
    const stem = 'release-switcher-auto-update-rs-gw-timer';
    await publishOwnPackage(PKG, [{ version: '1.3.0', behaviour: 'refuse-start' }]);
    const installed = await gw.rs(['timer', '--install', '--every', '1h', '--randomized-delay', '0']);
    expect(installed.exitCode, installed.stdout + installed.stderr).toBe(0);
    const execStart = /^ExecStart=(.+)$/m.exec(installed.json.result.files[0].content)![1];
    const tickLog = join(gw.root, '..', 'failed-tick.log');
    mkdirSync(join(manager.unitDir, `${stem}.service.d`), { recursive: true });
    writeFileSync(
      join(manager.unitDir, `${stem}.service.d`, 'scheduled.conf'),
      `[Service]\nExecStart=\nExecStart=${execStart} --json\nStandardOutput=append:${tickLog}\nStandardError=append:${tickLog}\n`,
    );
    expect((await manager.systemctl(['daemon-reload'])).exitCode).toBe(0);
    const last = () =>
      JSON.parse(
        readFileSync(tickLog, 'utf8')
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .at(-1)!,
      );
    const shown = async () =>
      (await manager.systemctl(['show', `${stem}.service`, '--property=Result', '--property=ExecMainStatus'])).stdout;

    const failed = await manager.systemctl(['start', `${stem}.service`], { timeoutMs: 90_000 });
    expect(failed.exitCode).not.toBe(0); // `systemctl start` of a oneshot that failed fails
    expect(last()).toMatchObject({
      ok: false,
      error: { code: 'ROLLED_BACK' },
      result: {
        kind: 'update',
        status: 'rolled_back',
        from: '1.0.0',
        to: '1.3.0',
        origin: { by: 'timer', why: 'newer_version' },
      },
    });
    expect(await shown()).toMatch(/^Result=exit-code$/m);
    expect(await shown()).toMatch(/^ExecMainStatus=3$/m);
    expect((await manager.systemctl(['is-failed', `${stem}.service`])).stdout.trim()).toBe('failed');
    expect((await gw.health())?.version).toBe('1.0.0');

    // The next tick: 1.3.0 is bad here, never retried; nothing to do, exit 0, and the unit is no longer failed.
    const next = await manager.systemctl(['start', `${stem}.service`], { timeoutMs: 90_000 });
    expect(next.exitCode, next.stderr).toBe(0);
    expect(last()).toMatchObject({ ok: true, result: { skipped: 'nothing_to_do', reason: 'candidate_bad' } });
    expect(await shown()).toMatch(/^Result=success$/m);
    expect(await shown()).toMatch(/^ExecMainStatus=0$/m);
    expect((await gw.rs(['timer', '--remove'])).json.result).toMatchObject({ removed: true });
  }, 200_000);
});
