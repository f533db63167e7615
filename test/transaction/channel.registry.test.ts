// Which version `update` without a version takes, against the real registry (Verdaccio), through the CLI: the channel
// from `--channel`, else config.json's, else the service's own setting (openclaw: `update.channel` in the
// openclaw.json of the service's state dir), else stable. stable is `latest`; beta the newer of `beta` and `latest`
// (here `beta` is older, so `latest` wins); extended-stable the `extended-stable` tag exactly, never a fallback;
// OpenClaw's git-checkout `dev` refused with a code and a hint. The package is this file's own (its tags are moved
// here only); the root uses the openclaw preset, whose channel setting is the subject, with no supervisor.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { cli, rs, tempDir } from '../support/cli.ts';
import { writeGateway } from '../support/fixture-sources.ts';
import { addDistTag, npm, publish } from '../support/registry.ts';

const NAME = 'rs-fixture-channel';

describe('update without a version follows the channel', () => {
  let root: string;
  let stateDir: string;
  /** The service's environment: supervisor none, so the service's is this process's (its state dir's openclaw.json). */
  const env = () => ({ OPENCLAW_STATE_DIR: stateDir });
  const planned = async (args: string[] = []) => {
    const r = await rs(root, ['update', '--dry-run', ...args], { env: env() });
    return { r, version: r.json?.result?.install?.version as string | undefined };
  };
  const serviceChannel = (channel: unknown) =>
    writeFileSync(
      join(stateDir, 'openclaw.json'),
      `// JSON5, as openclaw reads it\n{ update: { channel: ${JSON.stringify(channel)} } }\n`,
    );

  beforeAll(async () => {
    const registry = inject('registryUrl');
    const dir = tempDir('rs-channel-pkg-');
    const versions = ['1.0.0', '1.1.0-beta.1', '1.1.0'];
    for (const version of versions)
      await writeGateway(join(dir, 'src', version), { name: NAME, version, depRange: '^1.0.0', engines: '>=20' });
    const { stdout } = await npm(
      ['pack', ...versions.map((v) => join(dir, 'src', v)), '--pack-destination', dir, '--json'],
      {},
    );
    for (const { filename } of JSON.parse(stdout) as Array<{ filename: string }>)
      await publish(join(dir, filename), { registry });
    await addDistTag(`${NAME}@1.1.0`, 'latest', { registry });
    await addDistTag(`${NAME}@1.1.0-beta.1`, 'beta', { registry }); // older than latest
    await addDistTag(`${NAME}@1.0.0`, 'extended-stable', { registry });
    root = join(tempDir('rs-channel-root-'), 'root');
    stateDir = tempDir('rs-channel-state-');
    mkdirSync(stateDir, { recursive: true });
    const init = await rs(root, [
      'init',
      '--package',
      NAME,
      '--registry',
      registry,
      '--preset',
      'openclaw',
      '--supervisor',
      'none',
      '--node',
      inject('sqliteNode'),
    ]);
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    expect(init.json.result.config.channel).toBeNull(); // no channel of its own: the service's
  }, 300_000);

  it("the service's update.channel: stable is latest, beta the newer of beta and latest, extended-stable its tag exactly", async () => {
    const stable = await planned(); // no openclaw.json: stable
    expect(stable.r.json.result).toMatchObject({ channel: 'stable', channelFrom: 'the default', version: '1.1.0' });
    const human = await cli(['--root', root, 'update', '--dry-run'], { env: env() });
    expect(human.stdout.split('\n')[0]).toBe(`channel stable (the default): ${NAME}@latest`);
    for (const [channel, version] of [
      ['stable', '1.1.0'],
      ['beta', '1.1.0'], // beta (1.1.0-beta.1) is older than latest: latest
      ['extended-stable', '1.0.0'], // older than latest, taken exactly
    ]) {
      serviceChannel(channel);
      const { r, version: got } = await planned();
      expect(got, `${channel}: ${r.stdout}${r.stderr}`).toBe(version);
      // The dry run names the channel and where it was decided, as check does.
      expect(r.json.result).toMatchObject({
        channel,
        channelFrom: `${join(stateDir, 'openclaw.json')} update.channel`,
      });
    }
    // check reports the channel and where it was decided; extended-stable is never taken automatically.
    const checked = await rs(root, ['check'], { env: env() });
    expect(checked.json.result).toMatchObject({
      channel: 'extended-stable',
      channelFrom: `${join(stateDir, 'openclaw.json')} update.channel`,
      action: 'none',
      reason: 'manual_channel',
      detail: expect.stringMatching(
        /^extended-stable is never applied automatically; by hand: release-switcher update 1\.0\.0/,
      ),
    });
  }, 300_000);

  it('--channel wins for this update, then config.json, over the service', async () => {
    serviceChannel('extended-stable');
    expect((await planned(['--channel', 'stable'])).version).toBe('1.1.0');
    expect((await rs(root, ['init', '--channel', 'beta'])).exitCode).toBe(0);
    expect((await planned()).version).toBe('1.1.0');
    expect((await rs(root, ['check'], { env: env() })).json.result).toMatchObject({
      channel: 'beta',
      channelFrom: 'config.json channel',
    });
    // auto: no channel of our own again, the service's.
    expect((await rs(root, ['init', '--channel', 'auto'])).json.result.config.channel).toBeNull();
    expect((await planned()).version).toBe('1.0.0');
    // A version named: no channel followed, none named.
    const named = await rs(root, ['update', `${NAME}@1.0.0`, '--dry-run'], { env: env() });
    expect(named.json.result.version).toBe('1.0.0');
    expect(named.json.result).not.toHaveProperty('channel');
    const both = await rs(root, ['update', `${NAME}@1.0.0`, '--channel', 'beta', '--dry-run'], { env: env() });
    expect([both.exitCode, both.json?.error?.code]).toEqual([2, 'USAGE']);
  }, 300_000);

  it('the transaction records the channel it followed, status shows it; an update naming its version records none', async () => {
    // A root of its own, no preset: the update is carried out (supervisor none), its transaction journaled.
    const own = join(tempDir('rs-channel-tx-'), 'root');
    const init = await rs(own, [
      'init',
      '--package',
      NAME,
      '--registry',
      inject('registryUrl'),
      '--supervisor',
      'none',
      '--channel',
      'beta',
    ]);
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    const followed = await rs(own, ['update']);
    expect(followed.exitCode, followed.stdout + followed.stderr).toBe(0);
    expect(followed.json.result).toMatchObject({ kind: 'update', to: '1.1.0' });
    expect(followed.json.result.channel).toEqual({ channel: 'beta', from: 'config.json channel' });
    const journaled = await rs(own, ['status']);
    expect(journaled.json.result.transaction.channel).toEqual({ channel: 'beta', from: 'config.json channel' });
    const human = await cli(['--root', own, 'status']);
    expect(human.stdout).toContain('channel beta (config.json channel)');
    // Up to date on the same channel: still recorded (the answer came from the channel).
    const again = await rs(own, ['update', '--channel', 'stable']);
    expect(again.json.result).toMatchObject({ status: 'up_to_date' });
    expect(again.json.result.channel).toEqual({ channel: 'stable', from: '--channel' });
    const named = await rs(own, ['update', `${NAME}@1.0.0`]);
    expect(named.exitCode, named.stdout + named.stderr).toBe(0);
    expect(named.json.result).toMatchObject({ kind: 'update', to: '1.0.0' });
    expect(named.json.result).not.toHaveProperty('channel');
  }, 300_000);

  it("OpenClaw's dev (a git checkout) and an unknown name are refused with a code and a hint, nothing installed", async () => {
    for (const [channel, message] of [
      ['dev', /git checkout of main/],
      ['nightly', /Unknown update channel "nightly"/],
    ] as const) {
      serviceChannel(channel);
      const r = await rs(root, ['update'], { env: env() });
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      expect(r.json.error).toMatchObject({
        code: 'CHANNEL_UNSUPPORTED',
        message: expect.stringMatching(message),
        hint: expect.any(String),
      });
      expect(r.json.error.message).toContain(join(stateDir, 'openclaw.json'));
    }
    expect((await rs(root, ['list'])).json.result.releases).toEqual([]);
  }, 300_000);

  it('a channel with no version on the registry is refused, never filled from another channel', async () => {
    // rs-fixture-gateway has latest and beta, no extended-stable tag.
    const other = join(tempDir('rs-channel-root-'), 'root');
    expect(
      (
        await rs(other, [
          'init',
          '--package',
          'rs-fixture-gateway',
          '--registry',
          inject('registryUrl'),
          '--channel',
          'extended-stable',
        ])
      ).exitCode,
    ).toBe(0);
    const r = await rs(other, ['update', '--dry-run']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.json.error).toMatchObject({
      code: 'VERSION_NOT_FOUND',
      message:
        'The extended-stable channel has no version of rs-fixture-gateway: the registry has no extended-stable dist-tag.',
    });
  }, 300_000);
});
