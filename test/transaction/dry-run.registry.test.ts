// switch/rollback/update/prune --dry-run print the plan (human and --json) and change nothing.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, rs, templateRoot } from '../support/cli.ts';
import { linkOf, releaseDirs } from '../support/root.ts';

/** 1.0.0 current, 1.2.0 installed. */
const freshRoot = templateRoot(['1.0.0', '1.2.0']);
const stateOf = (root: string) => readFileSync(join(root, 'state.json'), 'utf8');

describe('--dry-run plans', () => {
  it('switch --dry-run: the plan as data, nothing changed', async () => {
    const root = freshRoot();
    const before = stateOf(root);
    const r = await rs(root, ['switch', '1.2.0', '--dry-run']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result).toEqual({
      kind: 'switch',
      from: '1.0.0',
      to: '1.2.0',
      action: 'switch',
      state: { action: 'none' },
      supervisor: 'none',
      steps: ['verify-release', 'flip'],
    });
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
    expect(stateOf(root)).toBe(before);
    const human = await cli(['--root', root, 'switch', '1.2.0', '--dry-run']);
    expect(human.stdout).toContain('switch 1.0.0 → 1.2.0: would run verify-release → flip');
    expect(human.stdout).toContain('dry run: nothing changed');
    const missing = await rs(root, ['switch', '9.9.9', '--dry-run']);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.json.error.code).toBe('RELEASE_NOT_FOUND');
  });

  it('rollback --dry-run: NO_PREVIOUS without one; a refusal is planned as refuse with its reason', async () => {
    const root = freshRoot();
    expect((await rs(root, ['rollback', '--dry-run'])).json.error.code).toBe('NO_PREVIOUS');
    expect((await rs(root, ['switch', '1.2.0'])).exitCode).toBe(0);
    const config = join(root, 'config.json');
    writeFileSync(config, JSON.stringify({ ...JSON.parse(readFileSync(config, 'utf8')), schemaField: 'version' }));
    const before = stateOf(root);
    const r = await rs(root, ['rollback', '--dry-run']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result).toMatchObject({
      kind: 'rollback',
      from: '1.2.0',
      to: '1.0.0',
      action: 'refuse',
      state: { action: 'refuse', hint: expect.any(String) },
    });
    expect(linkOf(root, 'current')).toBe('releases/1.2.0');
    expect(stateOf(root)).toBe(before);
    // The real run refuses the same way.
    expect((await rs(root, ['rollback'])).json.error.code).toBe('STATE_SNAPSHOT_MISSING');
  });

  it("update --dry-run: the plan in switch's shape, install first when the release is not installed; nothing changed", async () => {
    const root = freshRoot();
    const before = stateOf(root);
    const r = await rs(root, ['update', 'rs-fixture-gateway@1.1.0', '--dry-run']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result).toMatchObject({
      kind: 'update',
      from: '1.0.0',
      to: '1.1.0',
      action: 'switch',
      state: { action: 'none' },
      supervisor: 'none',
      steps: ['install', 'verify-release', 'flip'],
      install: { dryRun: true, version: '1.1.0', alreadyInstalled: false, current: '1.0.0' },
      dryRun: true,
      version: '1.1.0',
      wouldSwitch: true,
    });
    // What update --dry-run said before stays at the top; the tarball's address is install.from.
    expect(r.json.result).toMatchObject({
      alreadyInstalled: false,
      current: '1.0.0',
      integrity: expect.stringMatching(/^sha512-/),
      tarballSize: expect.any(Number),
    });
    expect(r.json.result.install.from).toMatch(/rs-fixture-gateway-1\.1\.0\.tgz$/);
    const switchPlan = (await rs(root, ['switch', '1.2.0', '--dry-run'])).json.result;
    expect(Object.keys(r.json.result)).toEqual(expect.arrayContaining(Object.keys(switchPlan)));
    const installed = await rs(root, ['update', 'rs-fixture-gateway@1.2.0', '--dry-run']);
    expect(installed.json.result).toMatchObject({
      kind: 'update',
      from: '1.0.0',
      to: '1.2.0',
      action: 'switch',
      steps: ['verify-release', 'flip'],
      install: { alreadyInstalled: true },
      wouldSwitch: true,
    });
    const current = await rs(root, ['update', 'rs-fixture-gateway@1.0.0', '--dry-run']);
    expect(current.json.result).toMatchObject({
      kind: 'update',
      from: '1.0.0',
      to: '1.0.0',
      action: 'up_to_date',
      steps: [],
      wouldSwitch: false,
    });
    const human = await cli(['--root', root, 'update', 'rs-fixture-gateway@1.1.0', '--dry-run']);
    expect(human.stdout).toContain('update 1.0.0 → 1.1.0: would run install → verify-release → flip');
    expect(human.stdout).toContain('dry run: nothing changed');
    expect(linkOf(root, 'current')).toBe('releases/1.0.0');
    expect(releaseDirs(root)).toEqual(['1.0.0', '1.2.0']);
    expect(stateOf(root)).toBe(before);
  });

  it('prune --dry-run: what would go, nothing removed; the real prune removes exactly that', async () => {
    const root = freshRoot();
    const r = await rs(root, ['prune', '--keep', '0', '--dry-run']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.json.result).toEqual({ removed: ['1.2.0'], kept: ['1.0.0'] });
    expect(releaseDirs(root)).toEqual(['1.0.0', '1.2.0']);
    expect(existsSync(join(root, 'releases', '1.2.0'))).toBe(true);
    const human = await cli(['--root', root, 'prune', '--keep', '0', '--dry-run']);
    expect(human.stdout).toContain('would remove 1.2.0; would keep 1.0.0');
    expect((await rs(root, ['prune', '--keep', '0'])).json.result).toMatchObject({
      removed: ['1.2.0'],
      kept: ['1.0.0'],
    });
  });
});
