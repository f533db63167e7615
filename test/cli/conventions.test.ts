// What people type first: --version, help COMMAND, a bare command, completions and the man page, all from the one
// set of definitions (src/cli/definitions.ts). In-process runCli; the shells and groff where the machine has them.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { completionScript } from '../../src/cli/completion.ts';
import { COMMANDS } from '../../src/cli/definitions.ts';
import { manPage } from '../../src/cli/manpage.ts';
import { runCli } from '../../src/cli/run.ts';
import { hasTool, itWhere } from '../support/skip.ts';

const VERSION = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')).version as string;

async function cli(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const exitCode = await runCli(argv, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env: { HOME: tmpdir(), RELEASE_SWITCHER_ROOT: join(tmpdir(), 'rs-test-no-such-root') },
  });
  return { exitCode, stdout, stderr };
}

function scriptFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'rs-test-completion-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

describe('version and help', () => {
  it('--version and -V print the package version; with --json the envelope has {version}', async () => {
    expect(await cli(['--version'])).toEqual({ exitCode: 0, stdout: `${VERSION}\n`, stderr: '' });
    expect(await cli(['-V'])).toEqual({ exitCode: 0, stdout: `${VERSION}\n`, stderr: '' });
    expect(await cli(['status', '--version'])).toMatchObject({ exitCode: 0, stdout: `${VERSION}\n` });
    const json = await cli(['--version', '--json']);
    expect([json.exitCode, JSON.parse(json.stdout)]).toEqual([0, { ok: true, result: { version: VERSION } }]);
  });

  it('a bare command prints the help on stdout and exits 0; so does --help', async () => {
    const bare = await cli([]);
    expect(bare).toMatchObject({ exitCode: 0, stderr: '' });
    expect(bare.stdout).toMatch(/^Usage: release-switcher \[--root DIR\] \[--json\] COMMAND/);
    expect(await cli(['--help'])).toEqual(bare);
  });

  it('help COMMAND is COMMAND --help, for every command; help alone is --help', async () => {
    for (const { name } of COMMANDS) {
      const [viaHelp, viaFlag] = [await cli(['help', name]), await cli([name, '--help'])];
      expect(viaHelp, name).toEqual(viaFlag);
      expect(viaHelp.stdout, name).toMatch(new RegExp(`^Usage: release-switcher ${name}\\b`));
    }
    expect(await cli(['help'])).toEqual(await cli(['--help']));
    const json = await cli(['help', 'switch', '--json']);
    expect(JSON.parse(json.stdout).result).toEqual({
      command: 'switch',
      help: (await cli(['switch', '--help'])).stdout,
    });
  });

  it('help of an unknown command is a usage error with the nearest one', async () => {
    const r = await cli(['help', 'rolback']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(
      /error USAGE: Unknown command "rolback".\nhint: Did you mean "release-switcher rollback"\?/,
    );
  });
});

describe('completions', () => {
  it('completion takes bash, zsh or fish; anything else is a usage error', async () => {
    for (const shell of ['bash', 'zsh', 'fish'] as const) {
      const r = await cli(['completion', shell]);
      expect([r.exitCode, r.stdout]).toEqual([0, completionScript(shell)]);
    }
    expect((await cli(['completion', 'tcsh'])).exitCode).toBe(2);
    expect((await cli(['completion'])).exitCode).toBe(2);
  });

  it('bash completes commands, options of the command, choices and the operand', () => {
    const file = scriptFile('release-switcher.bash', completionScript('bash'));
    const complete = (words: string) => {
      const script = `source ${file}; COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _release_switcher; echo "\${COMPREPLY[*]}"`;
      return spawnSync('bash', ['-c', script], { encoding: 'utf8' }).stdout.trim();
    };
    expect(complete('release-switcher up')).toBe('update');
    expect(complete('release-switcher --root /srv/app sw')).toBe('switch');
    expect(complete('release-switcher update --wai')).toBe('--wait');
    expect(complete('release-switcher switch --handoff a')).toBe('auto always');
    expect(complete("release-switcher init --supervisor ''")).toBe('systemd systemd-system launchd pm2 none');
    expect(complete('release-switcher help rol')).toBe('rollback');
    expect(complete('release-switcher completion f')).toBe('fish');
    expect(complete('release-switcher list --j')).toBe('--json');
  });

  itWhere(hasTool('fish'), 'fish completes the same', () => {
    const file = scriptFile('release-switcher.fish', completionScript('fish'));
    const complete = (line: string) =>
      spawnSync('fish', ['-c', `source ${file}; complete -C '${line}'`], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')
        .map((entry) => entry.split('\t')[0]);
    expect(complete('release-switcher upd')).toEqual(['update']);
    expect(complete('release-switcher update --wai')).toEqual(['--wait']);
    expect(complete('release-switcher init --channel ')).toEqual(['auto', 'beta', 'extended-stable', 'stable']);
    expect(complete('release-switcher help ro')).toEqual(['rollback']);
  });

  itWhere(hasTool('zsh'), 'the zsh script parses', () => {
    const file = scriptFile('_release-switcher', completionScript('zsh'));
    const r = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(readFileSync(file, 'utf8')).toMatch(/^#compdef release-switcher\n/);
  });
});

describe('the man page', () => {
  it('names every visible command and option, and the exit codes', () => {
    const page = manPage(VERSION);
    expect(page).toMatch(
      new RegExp(`^\\.TH RELEASE\\\\-SWITCHER 1 "" "release\\\\-switcher ${VERSION.replace(/\./g, '\\.')}"`),
    );
    for (const def of COMMANDS.filter((c) => !c.hidden)) {
      expect(page).toContain(`.SS ${def.name.replace(/-/g, '\\-')}`);
      for (const option of Object.keys(def.options))
        expect(page).toContain(`\\fB\\-\\-${option.replace(/-/g, '\\-')}\\fR`);
    }
    expect(page).not.toContain('run\\-transaction');
    for (const code of ['0', '1', '2', '3', '4', '5']) expect(page).toContain(`.TP\n\\fB${code}\\fR\n`);
  });

  itWhere(hasTool('groff'), 'groff renders it without a warning', () => {
    const file = scriptFile('release-switcher.1', manPage(VERSION));
    const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', file], { encoding: 'utf8' });
    expect([r.status, r.stderr]).toEqual([0, '']);
  });
});
