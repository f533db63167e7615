// Progress on a terminal (a real pseudo-terminal through script(1)) and off one.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI, cli, cliEnv, fixtureRoot } from '../support/cli.ts';
import { runThisFileAsRoot } from '../support/accounts.ts';

runThisFileAsRoot(
  'it runs the CLI under script(1) as the test process on roots it made: root acts only on roots of its own',
);

/** Run the CLI on a pseudo-terminal; returns everything the terminal received. */
function onTty(args: string[], env: Record<string, string> = {}): string {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return execFileSync('script', ['-qec', command, '/dev/null'], {
    env: { ...cliEnv(), TERM: 'xterm', ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
}

describe('progress', () => {
  it('on a terminal: a bar redrawn in place, in colour unless NO_COLOR', async () => {
    const root = await fixtureRoot();
    const out = onTty(['--root', root, 'install', 'rs-fixture-gateway@1.0.0']);
    expect(out).toContain('\r\x1b[2K'); // redrawn in place
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape codes of a terminal are what is tested.
    expect(out).toMatch(/download\s*\x1b\[0m \[\x1b\[32m#+/); // a coloured bar for the bytes downloaded
    expect(out).toMatch(/installed 1\.0\.0 at /);
    const plain = onTty(['--root', root, 'install', 'rs-fixture-gateway@1.1.0'], { NO_COLOR: '1' });
    expect(plain).toContain('\r\x1b[2K');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape codes of a terminal are what is tested.
    expect(plain).not.toMatch(/\x1b\[(1|32)m/);
  });

  it('off a terminal: timestamped lines on stderr; --json keeps stdout to one document; --quiet says nothing', async () => {
    const root = await fixtureRoot();
    const r = await cli(['--root', root, '--json', 'install', 'rs-fixture-gateway@1.0.0']);
    expect(r.stderr).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] resolve: resolving rs-fixture-gateway@1\.0\.0$/m);
    expect(r.stderr).toMatch(/^\[[\d:.]+\] extract: extracted \d+\/\d+ files$/m);
    expect(r.stderr).not.toContain('\x1b');
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, result: { version: '1.0.0' } });
    const quiet = await cli(['--root', root, '--quiet', 'install', 'rs-fixture-gateway@1.1.0']);
    expect(quiet.exitCode).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toMatch(/^installed 1\.1\.0/);
  });
});
