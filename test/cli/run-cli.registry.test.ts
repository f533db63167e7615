// runCli mounted by a host CLI under its own name, e.g. `openclaw releases …`.
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.ts';
import { fixtureRoot, rs } from '../support/cli.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';

runThisFileAsRoot('it runs the CLI in this process (as root) on roots it made: root acts only on roots of its own');

function capture() {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      programName: 'openclaw releases',
    },
    out: () => out,
    err: () => err,
  };
}

describe('runCli as `openclaw releases`', () => {
  it('uses the host name in help, usage errors and hints, and returns the exit code', async () => {
    const help = capture();
    expect(await runCli(['rollback', '--help'], help.io)).toBe(0);
    expect(help.out()).toMatch(/^Usage: openclaw releases rollback \[VERSION\]/);
    expect(help.out()).toMatch(/openclaw releases rollback 2026\.9\.4/);

    const typo = capture();
    expect(await runCli(['lst'], typo.io)).toBe(2);
    expect(typo.err()).toMatch(/openclaw releases: error USAGE: Unknown command "lst"/);
    expect(typo.err()).toMatch(/Did you mean "openclaw releases list"\?/);

    const main = capture();
    expect(await runCli(['--help'], main.io)).toBe(0);
    expect(main.out()).toMatch(/^Usage: openclaw releases \[--root DIR\]/);
    expect(main.out()).not.toMatch(/run-transaction/);
  });

  it('runs commands against a root with the environment it is given, JSON included', async () => {
    const root = await fixtureRoot();
    expect((await rs(root, ['install', 'rs-fixture-gateway@1.0.0'])).exitCode).toBe(0);
    const list = capture();
    const code = await runCli(['--root', root, 'list', '--json'], {
      ...list.io,
      env: { PATH: process.env.PATH, HOME: '/nonexistent' },
    });
    expect(code).toBe(0);
    expect(JSON.parse(list.out())).toMatchObject({
      ok: true,
      result: { current: null, releases: [{ version: '1.0.0', state: 'installed' }] },
    });
    const missing = capture();
    expect(await runCli(['--root', root, 'switch', '7.7.7'], missing.io)).toBe(1);
    expect(missing.err()).toMatch(/hint: Install it first \(openclaw releases install rs-fixture-gateway@7\.7\.7\)/);
  });
});
