// Issue 55, "the process that answers is the process we started", as another account on the same host would try it:
// rs-mallory (a second normal account, its own rights only) takes the port of our rehearsal's candidate, or the
// service's port while it restarts, or [::1] of a `localhost` health URL, and answers every probe with the version we
// expect. The CLI runs as the normal test account against a fixture gateway under its private systemd --user. Only
// a listener of the process we started (the candidate's unit, the service's unit) may answer: the broken release is
// refused or not recorded good, a rehearsal whose first port was taken moves to another, and the control runs (no
// squatter; a good release while she sits on [::1]) pass.
//
// The gateway starts slowly (1.5 s before it binds, as a real gateway's cold start: openclaw takes 9-20 s), which is
// the window another account uses; the candidates carry a path of this test's own in their command line, so that
// the squatter takes no other test's port.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { account, canUseAccounts } from '../support/accounts.ts';
import { tempDir } from '../support/cli.ts';
import { MATRIX } from '../support/fixtures.ts';
import { type ManagedGateway, managedGateway } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { squat } from '../support/squatter.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';

const can = canRunUserManager().ok ? canUseAccounts() : canRunUserManager();
const BROKEN = MATRIX['never-healthy']; // answers 503 with its own version: never healthy
const WRONG = MATRIX['wrong-version']; // answers 200 with another version
const CRASHES = MATRIX['crash-after-3s'];

/** Waits 1.5 s before a fixture gateway (server.js) runs: the time it takes a real one to bind its port. */
const SLOW_START = `if (/server\\.js$/.test(process.argv[1] ?? '')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);\n`;

describeWhere(can, 'another account takes the port that answers (issue 55)', () => {
  let manager: UserManager;
  let gw: ManagedGateway;
  let slow: string;
  const mallory = () => account('rs-mallory');
  const step = (result: { steps: { name: string }[] }, name: string) => result.steps.find((s) => s.name === name);
  const answerOn = async (port: number) =>
    ((await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { version?: string }).version;
  const stateOf = async (version: string) =>
    (await gw.rs(['list'])).json.result.releases.find((r: { version: string }) => r.version === version)?.state;

  beforeAll(async () => {
    manager = await startUserManager({ name: 'foreign-listen' });
    const dir = tempDir('rs-squat-');
    slow = join(dir, 'slow-start.cjs');
    writeFileSync(slow, SLOW_START);
    chmodSync(slow, 0o644);
    mallory();
    gw = await managedGateway(manager, {
      name: 'rs-gw-squat',
      stableFor: 1,
      init: [`--preflight=--require=${slow} server.js --port {port}`, '--preflight-for', '1'],
      environment: { NODE_OPTIONS: `--require=${slow}` },
    });
    for (const v of ['1.0.0', '1.1.0', BROKEN, WRONG, CRASHES])
      expect((await gw.rs(['install', `rs-fixture-gateway@${v}`])).exitCode).toBe(0);
    expect((await gw.rs(['switch', '1.0.0', '--no-preflight'])).json.result.status).toBe('verified');
  }, 240_000);
  afterAll(async () => manager?.stop());

  it('she takes every rehearsal port first and answers as the broken release: refused (PORT_TAKEN naming her), after 3 ports, not marked good; without her it fails as its own', async () => {
    const squatter = squat(mallory(), {
      host: '127.0.0.1',
      version: BROKEN,
      take: { watch: 'every', marker: slow, skip: [gw.port] },
    });
    onTestFinished(() => squatter.stop());
    const r = await gw.rs(['switch', BROKEN]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.json.error.code).toBe('PORT_TAKEN');
    expect(r.json.error.message).toMatch(/held by rs-mallory \(uid \d+, its process not visible to this account\)/);
    expect(squatter.taken()).toHaveLength(3);
    // Her ports answer as the release we wanted (what the rehearsal trusted before), yet no probe of ours reached her.
    expect(await answerOn(squatter.taken()[2]!)).toBe(BROKEN);
    expect(squatter.answered()).toBe(1);
    expect(await stateOf(BROKEN)).toBe('installed');
    expect((await gw.rs(['status'])).json.result.current).toBe('1.0.0');
    expect((await gw.health())?.version).toBe('1.0.0');
    await squatter.stop();
    // The control: the same release without her fails its rehearsal for what it is, and is marked bad.
    const control = await gw.rs(['switch', BROKEN]);
    expect(control.json.error?.code, control.stdout + control.stderr).toBe('PREFLIGHT_FAILED');
    expect(control.json.error.message).toMatch(/never_healthy/);
    expect(await stateOf(BROKEN)).toBe('bad');
  }, 90_000);

  it('she takes the first rehearsal port only: the rehearsal moves to another port and the good release passes', async () => {
    const squatter = squat(mallory(), {
      host: '127.0.0.1',
      version: '1.1.0',
      take: { watch: 'first', marker: slow, skip: [gw.port] },
    });
    onTestFinished(() => squatter.stop());
    const r = await gw.rs(['switch', '1.1.0']);
    expect(r.json.result?.status, r.stdout + r.stderr).toBe('verified');
    const taken = squatter.taken();
    expect(taken).toHaveLength(1);
    expect(step(r.json.result, 'preflight')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(
        new RegExp(
          `^rehearsed on 127\\.0\\.0\\.1:(?!${taken[0]}\\b)\\d+: .*after 1 port\\(s\\) held by another process: port ${taken[0]} is held by another process: 127\\.0\\.0\\.1:${taken[0]} is held by rs-mallory`,
        ),
      ),
    });
    expect((await gw.health())?.version).toBe('1.1.0');
  }, 90_000);

  it('a localhost health URL, the gateway on 127.0.0.1, she on [::1]: the probe goes to the gateway only; a broken release is rolled back, a good one verified', async () => {
    // A host whose localhost is both ::1 and 127.0.0.1, as Debian's /etc/hosts has it (this machine's may not):
    // the CLI runs in a mount namespace of its own with such a file over /etc/hosts.
    const hosts = join(tempDir('rs-hosts-'), 'hosts');
    writeFileSync(hosts, '::1 localhost\n127.0.0.1 localhost\n');
    chmodSync(hosts, 0o644);
    const prefix = [
      'unshare',
      '-m',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      'mount --bind "$0" /etc/hosts && exec "$@"',
      hosts,
    ];
    const url = (host: string) => `http://${host}:${gw.port}/health`;
    expect((await gw.rs(['init', '--health-url', url('localhost')])).exitCode).toBe(0);
    onTestFinished(async () => void (await gw.rs(['init', '--health-url', url('127.0.0.1')])));
    for (const [target, expected] of [
      [WRONG, 'rolled_back'],
      ['1.0.0', 'verified'],
    ] as const) {
      const squatter = squat(mallory(), { host: '::1', version: target, take: { port: gw.port } });
      await squatter.holding();
      const r = await gw.rs(['switch', target, '--no-preflight'], { prefix });
      await squatter.stop();
      expect(r.json.result?.status, r.stdout + r.stderr).toBe(expected);
      if (expected === 'rolled_back') {
        expect(step(r.json.result, 'verify')).toMatchObject({
          status: 'failed',
          detail: expect.stringMatching(/version_mismatch: .*\(meanwhile \[::1\]:\d+ is held by rs-mallory/),
        });
        expect(await stateOf(WRONG)).toBe('bad');
      }
    }
  }, 120_000);

  it("she takes the service's port while it restarts and answers as the new release: it is not recorded good", async () => {
    const squatter = squat(mallory(), { host: '127.0.0.1', version: CRASHES, take: { port: gw.port } });
    onTestFinished(() => squatter.stop());
    const r = await gw.rs(['switch', CRASHES, '--no-preflight']);
    expect(squatter.taken(), 'she took the port during the restart').toEqual([gw.port]);
    // She answers as the new release (what verification trusted before); only the stop window's watch asks blindly.
    expect((await gw.health())?.version).toBe(CRASHES);
    // She holds the port throughout: neither the new release nor the previous one can bind it; a human must act.
    expect([r.exitCode, r.json.result?.status], r.stdout + r.stderr).toEqual([4, 'rollback_failed']);
    expect(JSON.stringify(step(r.json.result, 'verify'))).toMatch(/127\.0\.0\.1:\d+ is held by rs-mallory/);
    expect(await stateOf(CRASHES)).toBe('bad');
  }, 120_000);
});
