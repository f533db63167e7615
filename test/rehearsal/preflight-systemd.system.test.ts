// The rehearsal under a real private systemd --user: the candidate runs in its own transient unit, the live
// service keeps its main PID and restart count, its state stays byte-identical; a kill -9 of the switcher
// mid-rehearsal leaves a unit and a private dir that cleanupPreflight (recovery's call) removes.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWhere } from '../support/skip.ts';
import { copyStatePrivately } from '../../src/snapshot/private-copy.ts';
import {
  type PreflightOptions,
  type PreflightRecord,
  cleanupPreflight,
  runPreflight,
} from '../../src/rehearsal/preflight.ts';
import { freePort } from '../support/service.ts';
import { canRunUserManager, startUserManager, type UserManager } from '../support/systemd.ts';
import { candidate, pidAlive, snapshotBytes } from './preflight-support.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';

runThisFileAsRoot('its live service and state are planted as root; moving it to the account is still to do');

const can = canRunUserManager();
const LIVE_UNIT = 'rs-preflight-live.service';

describeWhere(can, `preflight under systemd --user`, () => {
  let manager: UserManager;
  let root: string;
  let live: string;
  beforeAll(async () => {
    manager = await startUserManager({ name: 'preflight' });
    root = manager.root;
    live = join(root, 'live-state');
    await mkdir(live);
    const dir = await candidate(root, '4.0.0', { schema: 17 });
    const port = await freePort();
    await manager.writeUnit(
      LIVE_UNIT,
      `[Service]\nExecStart=${process.execPath} ${dir}/server.js --port ${port}\nEnvironment=STATE_DIR=${live}\nRestart=always\n`,
    );
    expect((await manager.systemctl(['start', LIVE_UNIT])).exitCode).toBe(0);
    await manager.waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))?.ok === true, {
      what: 'live service healthy',
    });
  }, 60_000);
  afterAll(async () => manager?.stop());

  const options = (version: string, records: PreflightRecord[]): PreflightOptions => ({
    node: process.execPath,
    args: ['server.js', '--port', '{port}'],
    env: { STATE_DIR: '{state}' },
    baseEnv: manager.env,
    releaseDir: join(root, 'releases', version),
    expectedVersion: version,
    healthUrl: 'http://localhost:18789/health',
    versionField: 'version',
    verifyTimeoutMs: 3_000,
    holdMs: version === '3.1.0' ? 5_000 : 1_000,
    copyState: (dir) => copyStatePrivately([live], dir),
    workRoot: join(root, 'preflight'),
    isolation: { kind: 'systemd', scope: 'user' },
    onRecord: async (record) => void records.push(record),
  });

  async function liveService(): Promise<{ pid: string; restarts: string }> {
    const show = await manager.systemctl(['show', LIVE_UNIT, '--property=MainPID', '--property=NRestarts']);
    const [pid = '', restarts = ''] = show.stdout
      .trim()
      .split('\n')
      .sort()
      .map((l) => l.split('=')[1] ?? '');
    return { pid, restarts };
  }

  it('passes a good candidate in its own transient unit, which is gone afterwards', async () => {
    await candidate(root, '4.1.0', { schema: 18 });
    const records: PreflightRecord[] = [];
    const result = await runPreflight(options('4.1.0', records));
    expect(result, result.outputTail).toMatchObject({ ok: true });
    expect(records[0]?.unit).toMatch(/^release-switcher-preflight-.*\.service$/);
    const shown = await manager.systemctl(['show', records[0]!.unit!, '--property=LoadState', '--value']);
    expect(shown.stdout.trim()).toBe('not-found');
  }, 30_000);

  it('hands the candidate its environment through a 0600 file, never the command line or Environment=', async () => {
    // A value with every character systemd's quoting must carry: quotes, a backslash, $, a backtick, a newline.
    const secret = `s3cret "quoted" \\ $HOME \`tick\` %i\nsecond line`;
    const seen = join(root, 'secret-seen');
    const code = `require('node:fs').writeFileSync(${JSON.stringify(seen)}, process.env.PROBE_SECRET ?? '<unset>');
require('node:http').createServer((q, a) => a.end(JSON.stringify({ version: '4.4.0' }))).listen(Number(process.argv[1]), '127.0.0.1');`;
    await candidate(root, '4.4.0', { schema: 17 });
    const records: PreflightRecord[] = [];
    let shown = '';
    let fileMode = 0;
    const result = await runPreflight({
      ...options('4.4.0', records),
      args: ['-e', code, '{port}'],
      env: { PROBE_SECRET: secret },
      onStarted: async () => {
        const unit = records[0]!.unit!;
        shown = (await manager.systemctl(['show', unit, '--property=Environment', '--property=EnvironmentFiles']))
          .stdout;
        fileMode = (await stat(join(records[0]!.dir, 'candidate.env'))).mode & 0o777;
      },
    });
    expect(result, result.outputTail).toMatchObject({ ok: true });
    expect(await readFile(seen, 'utf8')).toBe(secret);
    expect(shown).not.toContain('s3cret');
    expect(shown).toMatch(/EnvironmentFiles=.*candidate\.env/);
    expect(fileMode).toBe(0o600);
  }, 30_000);

  const refusals: Array<[string, Parameters<typeof candidate>[2], string]> = [
    ['3.0.0', { behaviour: 'crash-on-start' }, 'crashed'],
    ['3.3.0', { behaviour: 'never-healthy' }, 'never_healthy'],
    ['3.2.0', { behaviour: 'wrong-version' }, 'version_mismatch'],
    ['3.1.0', { behaviour: 'crash-after-3s' }, 'died_in_hold'],
    ['4.3.0', { schema: 19, behaviour: 'crash-on-start' }, 'crashed'],
  ];
  for (const [version, spec, reason] of refusals) {
    it(`refuses ${version} (${reason}) with the live service's MainPID, NRestarts and state unchanged`, async () => {
      await candidate(root, version, spec);
      const [service, state] = [await liveService(), await snapshotBytes(live)];
      const records: PreflightRecord[] = [];
      const result = await runPreflight(options(version, records));
      expect(result.reason, `${result.detail}\n${result.outputTail}`).toBe(reason);
      expect(await liveService()).toEqual(service);
      expect(await snapshotBytes(live)).toEqual(state);
      const shown = await manager.systemctl(['show', records[0]!.unit!, '--property=LoadState', '--value']);
      expect(shown.stdout.trim()).toBe('not-found');
      expect(existsSync(records[0]!.dir)).toBe(false);
    }, 30_000);
  }

  for (const isolation of ['systemd', 'group'] as const) {
    it(`kill -9 of the switcher mid-rehearsal (${isolation}): the candidate survives it, cleanupPreflight ends it`, async () => {
      await candidate(root, '3.3.0', { behaviour: 'never-healthy' });
      const recordFile = join(root, `record-${isolation}.json`);
      const opts = {
        ...options('3.3.0', []),
        verifyTimeoutMs: 60_000,
        isolation: isolation === 'systemd' ? { kind: 'systemd', scope: 'user' } : { kind: 'group' },
      };
      const script = `import { runPreflight } from ${JSON.stringify(join(process.cwd(), 'dist/rehearsal/preflight.js'))};
import { copyStatePrivately } from ${JSON.stringify(join(process.cwd(), 'dist/snapshot/private-copy.js'))};
import { writeFileSync } from 'node:fs';
const o = JSON.parse(process.argv[1]);
await runPreflight({ ...o, copyState: (d) => copyStatePrivately([${JSON.stringify(live)}], d), onRecord: async (r) => writeFileSync(${JSON.stringify(recordFile)}, JSON.stringify(r)) });`;
      const { onRecord: _, copyState: __, ...plain } = opts;
      const switcher = execa(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(plain)], {
        reject: false,
        env: manager.env,
      });
      // The child writes the record with a plain writeFile: a read in the middle of it sees part of it, so a
      // record that does not parse yet is no record yet.
      const record = async (): Promise<PreflightRecord | null> => {
        try {
          return JSON.parse(await readFile(recordFile, 'utf8').catch(() => 'null'));
        } catch {
          return null;
        }
      };
      const running = async (r: PreflightRecord) =>
        r.unit
          ? (await manager.systemctl(['is-active', r.unit])).stdout.trim() === 'active'
          : r.pgid !== undefined && pidAlive(r.pgid);
      await manager.waitFor(
        async () => {
          const r = await record();
          return r !== null && (await running(r));
        },
        { what: 'the rehearsal running', timeoutMs: 15_000 },
      );
      switcher.kill('SIGKILL');
      await switcher;
      const left = (await record())!;
      await new Promise((r) => setTimeout(r, 300));
      expect(await running(left), 'the candidate outlives the switcher: recovery must end it').toBe(true);
      expect(existsSync(left.dir)).toBe(true);
      await cleanupPreflight(left, { callerEnv: manager.env, workRoot: opts.workRoot });
      expect(await running(left)).toBe(false);
      expect(existsSync(left.dir)).toBe(false);
      await writeFile(recordFile, 'null');
    }, 40_000);
  }
});
