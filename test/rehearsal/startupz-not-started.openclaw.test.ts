// A `/startupz` that answers 2xx without `status: "started"` is not verified, on the real gateway (openclaw 2026.9.5
// serving under a private systemd --user, Node 24, its unit adopted; issue 32). The candidate is the real 2026.9.6,
// repacked out of npm's cache as 2026.9.6-startupz-not-started, altered in one respect only: its /startupz body says
// `status: "starting"` where it would say "started", still with HTTP 200 and its own version. `update <that tarball>`
// installs it (its tree resolved from the tarball's package.json, the fast path as for a registry version), and the
// rehearsal (its first start ahead on the finalized copy, which stands for the preset's own), judging by verification's rule (service/health.ts `notStarted`), refuses it with PREFLIGHT_FAILED before the gateway is
// touched: no flip, no stop, no restart, the same main PID serving 9.5 (started), `current` still 9.5, the candidate
// marked bad, and the step's evidence naming what the body said (200, "starting", the candidate's version).
// As the suite's normal account (accounts.ts): the user manager, the gateway and release-switcher run as it, on a
// root, a state dir and an npm cache it owns; the test's own bookkeeping (the repacked tarball) is done as root.
import { loadavg } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultTestAccount } from '../support/accounts.ts';
import { cli } from '../support/cli.ts';
import {
  accountNpmCache,
  adoptRunningGateway,
  openclawCliEnv,
  giveTo,
  OPENCLAW_UNIT as UNIT,
  openclawBench,
  openclawWork,
  REMOVE_TIMEOUT_MS,
  removeOpenclawBench,
  SHORT_WINDOWS,
  writeOpenclawService,
} from '../support/openclaw.ts';
import { copyOpenclaw, openclawNpmCache } from '../support/openclaw-prepared.ts';
import { asVersion, distFileWith, packTarball, patchFile, unpackFromCache } from '../support/openclaw-repack.ts';
import { freePort } from '../support/service.ts';
import { describeWhere } from '../support/skip.ts';
import { canRunUserManager, type UserManager } from '../support/systemd.ts';

const FROM = '2026.9.5';
const BASE = '2026.9.6';
const CANDIDATE = `${BASE}-startupz-not-started`;
/** Where 2026.9.6 builds its /startupz (and /startup) body; its HTTP status was decided before, from `ok`. */
const PROBE_BODY = 'function startupProbeBody(result, includeDetails) {';
/** The rehearsal waits this long for a healthy answer (less than the preset's 300 s; a cold start is 9-20 s at idle). */
const VERIFY_TIMEOUT_S = 60;

type StepJson = { name: string; status: string; detail?: string; evidence?: any };

describeWhere(
  canRunUserManager(),
  'a /startupz that answers 200 without "started" (real openclaw, systemd --user)',
  () => {
    let um: UserManager;
    let port: number;
    let tarball: string;
    const account = defaultTestAccount();
    const work = openclawWork('rs-ocsnz-', account);
    const root = path.join(work, 'root');
    let npmCache: string;
    const _state = () => path.join(um.env.HOME!, '.openclaw');
    const env = () => openclawCliEnv(um, { npmCache, work });
    const rs = (args: string[], timeout = 1_200_000) =>
      cli(['--root', root, '--json', ...args], { env: env(), timeout });
    const mainPid = async () => Number((await um.systemctl(['show', '-p', 'MainPID', '--value', UNIT])).stdout.trim());
    const startupz = async () =>
      (await fetch(`http://127.0.0.1:${port}/startupz`, { signal: AbortSignal.timeout(5_000) })
        .then(async (r) => ({ http: r.status, ...((await r.json()) as { status?: string; version?: string }) }))
        .catch((error: Error) => ({ http: 0, error: error.message }))) as {
        http: number;
        status?: string;
        version?: string;
      };

    /** 2026.9.6 from npm's cache, CANDIDATE in its package.json and build-info, its /startupz body saying "starting". */
    async function repackCandidate(): Promise<string> {
      const pkg = asVersion(
        await unpackFromCache({ version: BASE, cache: npmCache, dir: path.join(work, 'repack') }),
        CANDIDATE,
      );
      patchFile(pkg, distFileWith(pkg, PROBE_BODY), (text) =>
        text.replace(
          PROBE_BODY,
          `${PROBE_BODY}\n\tif (result.status === "started") result = { ...result, status: "starting" };`,
        ),
      );
      return packTarball(pkg, path.join(work, `openclaw-${CANDIDATE}.tgz`));
    }

    beforeAll(async () => {
      console.log(`load average at start: ${loadavg()[0]!.toFixed(1)}`);
      // npm's cache warm with openclaw's packages (the prepared installs filled it): the candidate's tarball comes out
      // of it, and its staging fetches nothing it holds. A copy of the account's own.
      const prepared = await openclawNpmCache(work);
      npmCache = prepared.startsWith(`${work}/`) ? prepared : await accountNpmCache(work, prepared, account);
      tarball = await repackCandidate(); // as root, before the cache is handed over (pacote writes its index)
      await giveTo(account, npmCache);
      await giveTo(account, tarball);
      const bench = await openclawBench({
        name: 'ocsnz',
        work,
        version: FROM,
        account,
        prefix: await copyOpenclaw(FROM, path.join(work, 'prefix'), { link: true }), // the gateway runs from it, adopt takes it
      });
      const { node } = bench;
      um = bench.um;
      port = await freePort();
      await writeOpenclawService(um, { node, prefix: bench.prefix, port, ownStateDir: true });
      await adoptRunningGateway(um, {
        rs,
        node,
        prefix: bench.prefix,
        port,
        version: FROM,
        init: [...SHORT_WINDOWS, '--verify-timeout', String(VERIFY_TIMEOUT_S)],
      });
    }, 2_400_000);

    afterAll(() => removeOpenclawBench(um, work), REMOVE_TIMEOUT_MS);

    it(`update to ${CANDIDATE} (200, its version, status "starting") is refused by the rehearsal: ${FROM} serves on, untouched`, async () => {
      const serving = await mainPid();
      expect(await startupz()).toMatchObject({ http: 200, status: 'started', version: FROM });
      const updated = await rs(['update', tarball]);
      const tx = updated.json?.result;
      console.log(
        `update ${path.basename(tarball)} (exit ${updated.exitCode}, load ${loadavg()[0]!.toFixed(1)}):\n${JSON.stringify(updated.json, null, 2)}`,
      );
      expect(updated.exitCode, updated.stdout.slice(-3000) + updated.stderr.slice(-3000)).toBe(1);
      expect(updated.json?.error?.code).toBe('PREFLIGHT_FAILED');
      expect(updated.json.error.message).toMatch(new RegExp(`^${CANDIDATE} failed its rehearsal \\(never_healthy\\)`));
      expect(tx).toMatchObject({
        kind: 'update',
        from: FROM,
        to: CANDIDATE,
        status: 'failed',
        reason: 'preflight_failed',
      });
      // Installed from the tarball, then judged; its finalize ran ahead on a copy, but its first start there never said
      // `started`, so finalize was left to the window (the copy discarded); that start stands for the preset's own
      // rehearsal, whose verdict it is, the candidate not started a second time; the rehearsal the last step: no flip,
      // no stop, no restart, no verify.
      const steps: StepJson[] = tx.steps;
      expect(steps.map((s) => s.name)).toEqual(['verify-release', 'database-preflight', 'finalize-ahead', 'preflight']);
      expect(steps[2]).toMatchObject({
        status: 'skipped',
        detail: expect.stringMatching(
          new RegExp(
            `^finalize runs in the window: it could not run ahead \\(${CANDIDATE.replaceAll('.', '\\.')}'s first start ahead on the copy failed \\(\\w+: not healthy within ${VERIFY_TIMEOUT_S} s: .*answered 200 with status "starting", not "started"`,
          ),
        ),
      });
      // The evidence names what the body said: 200, the candidate's own version, "starting" and not "started".
      const preflight = steps.at(-1)!;
      expect(preflight).toMatchObject({
        status: 'failed',
        detail: expect.stringMatching(
          new RegExp(
            `^never_healthy: not healthy within ${VERIFY_TIMEOUT_S} s: http://127\\.0\\.0\\.1:\\d+/startupz answered 200 with status "starting", not "started"$`,
          ),
        ),
        evidence: {
          by: 'first-start-ahead',
          ok: false,
          reason: 'never_healthy',
          lastHttpStatus: 200,
          lastVersion: CANDIDATE,
        },
      });
      expect(preflight.evidence.probes).toBeGreaterThan(1);
      expect(preflight.evidence.port).not.toBe(port); // its own port, not the live gateway's
      // The very start made ahead on the finalized copy, not a second one.
      expect(steps[2]!.evidence.firstStart).toMatchObject({ ok: false, reason: 'never_healthy' });
      expect(preflight.evidence.port).toBe(steps[2]!.evidence.firstStart.port);
      // The gateway untouched: the same process, serving 9.5, started; `current` unchanged; the candidate marked bad.
      expect(await mainPid()).toBe(serving);
      expect(await startupz()).toMatchObject({ http: 200, status: 'started', version: FROM });
      const status = await rs(['status']);
      expect(status.json?.result?.current, status.stdout + status.stderr).toBe(FROM);
      const listed = await rs(['list']);
      expect(listed.json?.result?.current).toBe(FROM);
      expect(listed.json.result.releases.find((r: { version: string }) => r.version === CANDIDATE)).toMatchObject({
        state: 'bad',
        current: false,
        reason: expect.stringContaining('preflight: never_healthy'),
      });
    }, 1_800_000);
  },
);
