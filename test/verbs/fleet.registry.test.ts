// Every gateway of one host in one command: init records each root in the host's lists of roots, and `--all` runs the
// per-root command on each, a root at a time. Through the built CLI against the seeded Verdaccio, as the suite's
// normal account (accounts.ts) where the suite runs as root. The roots have no supervisor and rehearse each candidate
// before the flip (preflight), so a broken release is refused as a service's would be: this file's own two packages,
// rs-fixture-fleet (1.1.0 good) and rs-fixture-fleet-bad (1.1.0 crashes on start), published here.
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultTestAccount } from '../support/accounts.ts';
import { cli, rs, tempDir } from '../support/cli.ts';
import { writeGateway } from '../support/fixture-sources.ts';
import { npm, publish } from '../support/registry.ts';
import { describeWhere } from '../support/skip.ts';

const GOOD = 'rs-fixture-fleet';
const BAD = 'rs-fixture-fleet-bad';

beforeAll(async () => {
  const registry = inject('registryUrl');
  const dir = tempDir('rs-fleet-pkg-');
  const sources: string[] = [];
  for (const [name, version, behaviour] of [
    [GOOD, '1.0.0', 'good'],
    [GOOD, '1.1.0', 'good'],
    [BAD, '1.0.0', 'good'],
    [BAD, '1.1.0', 'crash-on-start'],
  ] as const) {
    const src = join(dir, 'src', `${name}-${version}`);
    await writeGateway(src, { name, version, depRange: '^1.0.0', engines: '>=20', behaviour });
    sources.push(src);
  }
  const { stdout } = await npm(['pack', ...sources, '--pack-destination', dir, '--json'], {});
  for (const { filename } of JSON.parse(stdout) as Array<{ filename: string }>)
    await publish(join(dir, filename), { registry });
}, 300_000);

/** A host of its own: its lists of roots in a fresh folder (this account's, and the host's that root writes). */
function host() {
  const state = tempDir('rs-fleet-state-');
  const env = { XDG_STATE_HOME: state, RELEASE_SWITCHER_SYSTEM_ROOTS: join(state, 'system-roots.json') };
  const run = (args: string[]) => cli(['--json', ...args], { env });
  /** A root of `pkg` on 1.0.0 (installed, rehearsed, switched), recorded by its init. */
  const root = async (pkg: string, { activate = true } = {}) => {
    const dir = join(tempDir('rs-fleet-root-'), 'root');
    const init = await rs(
      dir,
      [
        'init',
        '--package',
        pkg,
        '--registry',
        inject('registryUrl'),
        '--supervisor',
        'none',
        '--health-url',
        'http://127.0.0.1:9/health',
        '--preflight',
        'server.js --port {port}',
        '--preflight-for',
        '1',
        '--verify-timeout',
        '5',
      ],
      { env },
    );
    expect(init.exitCode, init.stdout + init.stderr).toBe(0);
    if (activate) {
      const first = await rs(dir, ['update', `${pkg}@1.0.0`], { env });
      expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    }
    return dir;
  };
  const roots = async (pkgs: string[], options?: { activate?: boolean }) => {
    const made: string[] = [];
    for (const pkg of pkgs) made.push(await root(pkg, options)); // in order: the list keeps init's order
    return made;
  };
  const current = async (dir: string) => (await rs(dir, ['status'], { env })).json.result.current;
  return { env, state, run, roots, current };
}

describe('one host, many roots (--all)', () => {
  it('init records each root; status --all and list --all cover the three, one table for people', async () => {
    const h = host();
    const dirs = await h.roots([GOOD, GOOD, GOOD]);
    const again = await rs(dirs[0]!, ['init', '--keep', '2'], { env: h.env }); // a second init keeps its place
    const file = again.json.result.registered.file;
    expect([join(h.state, 'release-switcher', 'roots.json'), h.env.RELEASE_SWITCHER_SYSTEM_ROOTS]).toContain(file);
    const listed = JSON.parse(readFileSync(file, 'utf8'));
    expect(listed).toMatchObject({ version: 1, roots: dirs.map((root) => ({ root, package: GOOD })) });

    const status = await h.run(['status', '--all']);
    expect(status.exitCode, status.stdout + status.stderr).toBe(0);
    expect(status.json).toMatchObject({
      ok: true,
      result: {
        command: 'status',
        roots: dirs.map((root) => ({ root, status: 'ok', exitCode: 0, result: { current: '1.0.0' } })),
      },
    });
    const list = await h.run(['list', '--all']);
    expect(list.exitCode).toBe(0);
    for (const entry of list.json.result.roots)
      expect(entry.result.releases.map((r: { version: string }) => r.version)).toEqual(['1.0.0']);

    const human = await cli(['status', '--all'], { env: h.env });
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toMatch(/^ROOT\s+STATUS\s+EXIT\s+DETAIL$/m);
    for (const root of dirs) expect(human.stdout).toMatch(new RegExp(`^${root}\\s+ok\\s+0\\s+current 1\\.0\\.0$`, 'm'));
    expect(human.stdout).toContain('3 of 3 roots run, 0 failed');
    expect((await h.run(['status', '--all', '--root', dirs[0]!])).json.error.code).toBe('USAGE');
    expect((await h.run(['status', '--canary', dirs[0]!])).json.error.code).toBe('USAGE');
  }, 300_000);

  it('update --all: the canary, then the rest, each transaction recorded in its own root', async () => {
    const h = host();
    const dirs = await h.roots([GOOD, GOOD, GOOD]);
    const r = await h.run(['update', '--all']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result).toMatchObject({ canary: dirs[0], failures: 0, maxFailures: 1, stopped: false });
    expect(r.json.result.roots.map((o: { root: string; status: string }) => [o.root, o.status])).toEqual(
      dirs.map((d) => [d, 'switched']),
    );
    for (const [i, dir] of dirs.entries()) {
      const own = (await rs(dir, ['status'], { env: h.env })).json.result;
      expect(own).toMatchObject({ current: '1.1.0', transaction: { id: r.json.result.roots[i].transaction.id } });
    }
    // Once more: nothing to do anywhere.
    const again = await h.run(['update', '--all']);
    expect(again.json.result.roots.map((o: { status: string }) => o.status)).toEqual(Array(3).fill('up_to_date'));
  }, 300_000);

  it("a broken canary's release is refused and the rollout stops: the other roots untouched", async () => {
    const h = host();
    const dirs = await h.roots([BAD, GOOD, GOOD]);
    const before = await Promise.all(dirs.map(async (d) => (await rs(d, ['status'], { env: h.env })).json.result));
    const r = await h.run(['update', '--all']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.json).toMatchObject({
      ok: false,
      error: { code: 'PREFLIGHT_FAILED' },
      result: { canary: dirs[0], failures: 1, stopped: true },
    });
    expect(r.json.result.roots.map((o: { status: string; code?: string }) => [o.status, o.code])).toEqual([
      ['failed', 'PREFLIGHT_FAILED'],
      ['not_run', undefined],
      ['not_run', undefined],
    ]);
    expect(await h.current(dirs[0]!)).toBe('1.0.0');
    for (const [i, dir] of dirs.slice(1).entries()) {
      expect((await rs(dir, ['status'], { env: h.env })).json.result).toEqual(before[i + 1]);
      expect((await rs(dir, ['list'], { env: h.env })).json.result.releases).toHaveLength(1);
    }
  }, 300_000);

  it('stops at the first failure after the canary; --max-failures N goes on until N failed; --canary picks the first', async () => {
    const h = host();
    const dirs = await h.roots([GOOD, BAD, GOOD]);
    const r = await h.run(['update', '--all']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.json.result.roots.map((o: { status: string }) => o.status)).toEqual(['switched', 'failed', 'not_run']);
    expect(await h.current(dirs[2]!)).toBe('1.0.0');

    const other = host();
    const more = await other.roots([GOOD, BAD, GOOD]);
    const m = await other.run(['update', '--all', '--max-failures', '2', '--canary', more[2]!]);
    expect(m.exitCode, m.stdout + m.stderr).toBe(1);
    expect(m.json.result).toMatchObject({ canary: more[2], failures: 1, maxFailures: 2, stopped: false });
    expect(m.json.result.roots.map((o: { root: string; status: string }) => [o.root, o.status])).toEqual([
      [more[2], 'switched'],
      [more[0], 'switched'],
      [more[1], 'failed'],
    ]);
    expect((await other.run(['update', '--all', '--max-failures', '0'])).json.error.code).toBe('USAGE');
  }, 300_000);

  it("a gone root on the host's list, which this account cannot edit: reported with root's forget, not a failure", async () => {
    // The host's list as root keeps it (root's, in root's folder, readable by all); it names a root since deleted.
    const hostDir = tempDir('rs-fleet-hostlist-', null);
    chmodSync(hostDir, 0o755);
    const gone = join(hostDir, 'gone-root');
    const hostList = join(hostDir, 'roots.json');
    writeFileSync(
      hostList,
      `${JSON.stringify({ version: 1, roots: [{ root: gone, package: GOOD, addedAt: new Date().toISOString() }] })}\n`,
      { mode: 0o644 },
    );
    const state = tempDir('rs-fleet-state-');
    const run = (args: string[]) =>
      cli(['--json', ...args], { env: { XDG_STATE_HOME: state, RELEASE_SWITCHER_SYSTEM_ROOTS: hostList } });
    const r = await run(['status', '--all']);
    if (defaultTestAccount()) {
      // A normal account: the list is root's to edit; the gone root is said, and the run succeeds.
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.json.result.roots).toEqual([
        expect.objectContaining({
          root: gone,
          status: 'missing',
          code: 'NOT_INITIALIZED',
          hint: expect.stringContaining(`sudo release-switcher forget ${gone}`),
        }),
      ]);
    } else {
      // Root (or a machine without test accounts, where the list is the caller's own): its own to forget: a failure.
      expect(r.exitCode).toBe(1);
      expect(r.json.result.roots[0]).toMatchObject({ root: gone, status: 'missing' });
    }
  }, 120_000);

  it("doctor names a listed root that is gone (a warning: this root is fine) and --fix drops it from the caller's list", async () => {
    const h = host();
    const dirs = await h.roots([GOOD, GOOD], { activate: false });
    rmSync(dirs[1]!, { recursive: true, force: true });
    const check = (r: { json: { result: { checks: Array<{ name: string }> } } }) =>
      r.json.result.checks.find((c) => c.name === 'listed-roots');
    const seen = await h.run(['--root', dirs[0]!, 'doctor']);
    expect(check(seen), seen.stdout).toEqual({
      name: 'listed-roots',
      ok: true,
      warning: true,
      detail: expect.stringContaining(`listed, no longer there: ${dirs[1]} (doctor --fix`),
    });
    expect((await h.run(['status', '--all'])).exitCode).toBe(1); // still listed: doctor without --fix drops nothing
    const fixed = await h.run(['--root', dirs[0]!, 'doctor', '--fix']);
    expect(check(fixed)).toMatchObject({ ok: true, fixed: `dropped from the list: ${dirs[1]}` });
    const after = await h.run(['status', '--all']);
    expect(after.exitCode).toBe(0);
    expect(after.json.result.roots.map((o: { root: string }) => o.root)).toEqual([dirs[0]]);
    // Nothing left to say: the check is not reported at all.
    expect(check(await h.run(['--root', dirs[0]!, 'doctor']))).toBeUndefined();
  }, 300_000);

  it('a root deleted from disk is reported, not dropped; forget takes it off the list', async () => {
    const h = host();
    const dirs = await h.roots([GOOD, GOOD], { activate: false });
    rmSync(dirs[1]!, { recursive: true, force: true });
    const r = await h.run(['status', '--all']);
    expect(r.exitCode).toBe(1);
    expect(r.json.result.roots[1]).toMatchObject({
      root: dirs[1],
      status: 'missing',
      code: 'NOT_INITIALIZED',
      hint: expect.stringContaining(`forget ${dirs[1]}`),
    });
    const forgot = await h.run(['forget', '--missing']);
    expect(forgot.json.result.forgotten.map((f: { root: string }) => f.root)).toEqual([dirs[1]]);
    const after = await h.run(['status', '--all']);
    expect(after.exitCode).toBe(0);
    expect(after.json.result.roots.map((o: { root: string }) => o.root)).toEqual([dirs[0]]);
    expect((await h.run(['--root', dirs[0]!, 'forget'])).json.result.forgotten).toHaveLength(1);
    expect((await h.run(['status', '--all'])).json.result.roots).toEqual([]);
  }, 300_000);
});

describeWhere(
  {
    ok: defaultTestAccount() !== undefined,
    why: 'the suite does not run as a normal account here',
    where: 'in CI, which runs the suite as root and makes the normal account (test/support/accounts.ts)',
  },
  'as a normal account',
  () => {
    it("a root on the host's list it cannot read is skipped and said, not a failure", async () => {
      const h = host();
      const [mine] = await h.roots([GOOD], { activate: false });
      const closed = tempDir('rs-fleet-closed-', null); // root's, 0700
      mkdirSync(join(closed, 'root'));
      writeFileSync(join(closed, 'root', 'config.json'), '{}');
      const system = h.env.RELEASE_SWITCHER_SYSTEM_ROOTS;
      const entry = { root: join(closed, 'root'), package: GOOD, addedAt: new Date().toISOString() };
      writeFileSync(system, JSON.stringify({ version: 1, roots: [entry] }));
      // The host's list, written by root and readable by all (0644).
      const r = await h.run(['status', '--all']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.json.result.roots).toMatchObject([
        { root: mine, status: 'ok' },
        { root: entry.root, status: 'skipped', exitCode: 0, code: 'PERMISSION_DENIED' },
      ]);
    }, 120_000);
  },
);
