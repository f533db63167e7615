// Issue 48 item 2: when root acts for a service account, the environment of what it starts for the service (the
// rehearsed candidate, the database check, finalize) comes from the unit's definition, as systemd.exec(5) builds it,
// never from what the account's process shows. Pure: `systemctl show` output as text, files as text; and where root
// may read an EnvironmentFile= itself (nobody else can change what its path names).
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { rmSync } from 'node:fs';
import {
  DEFAULT_PATH,
  environmentFilesOf,
  parseEnvironmentFile,
  rootsAlone,
  showProperties,
  unitEnvironment,
} from '../../src/transaction/unit-environment.ts';

const account = { name: 'openclaw', home: '/home/openclaw', shell: '/bin/bash' };

describe('systemctl show, read', () => {
  it('keeps every EnvironmentFiles= line (one a file) and tells optional files (the unit\'s "-") from required ones', () => {
    const props = showProperties(
      [
        'Environment=NODE_ENV=production "GREETING=hello world" PATH=/home/openclaw/.local/bin:/usr/bin',
        'EnvironmentFiles=/etc/openclaw/gateway.env (ignore_errors=no)',
        'EnvironmentFiles=/home/openclaw/.openclaw/.env (ignore_errors=yes)',
        'PassEnvironment=',
        'UnsetEnvironment=',
      ].join('\n'),
    );
    expect(props.get('Environment')).toHaveLength(1);
    expect(environmentFilesOf(props.get('EnvironmentFiles') ?? [])).toEqual([
      { file: '/etc/openclaw/gateway.env', optional: false },
      { file: '/home/openclaw/.openclaw/.env', optional: true },
    ]);
  });
});

describe('EnvironmentFile= text, as systemd parses it', () => {
  it('comments, quotes, escapes, continued lines; a malformed name is left out', () => {
    const text = [
      '# a comment',
      '; another',
      'PLAIN=value',
      '  SPACED = padded value  ',
      "SINGLE='kept $HOME \\n as is'",
      'DOUBLE="a \\"quoted\\" word"',
      'CONTINUED=one \\',
      'two',
      'EMPTY=',
      '1BAD=x',
      'NOEQUALS',
      'LAST=wins',
      'LAST=really',
    ].join('\n');
    expect(parseEnvironmentFile(text)).toEqual({
      PLAIN: 'value',
      SPACED: 'padded value',
      SINGLE: 'kept $HOME \\n as is',
      DOUBLE: 'a "quoted" word',
      CONTINUED: 'one two',
      EMPTY: '',
      LAST: 'really',
    });
  });
});

describe("the environment a unit's next start gets", () => {
  const props = {
    managerEnvironment: 'PATH=/usr/local/bin:/usr/bin:/bin\nLANG=C.UTF-8\nHOME=/root\nPASSED=m',
    environment: 'HOME=/srv/openclaw OPENCLAW_STATE_DIR=/srv/openclaw/state FROM=environment',
    environmentFiles: [],
    passEnvironment: 'PASSED NOT_SET',
    unsetEnvironment: 'DROPPED FROM=nothing',
  };

  it("the manager's block, then User='s HOME/USER/LOGNAME/SHELL, PassEnvironment=, Environment=, then the files", () => {
    const env = unitEnvironment(props, {
      account,
      files: ['FROM=file\nDROPPED=x\nNODE_OPTIONS=--max-old-space-size=512'],
    });
    expect(env).toEqual({
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: 'C.UTF-8',
      HOME: '/srv/openclaw', // Environment= overrides what User= gives, which overrides the manager's
      USER: 'openclaw',
      LOGNAME: 'openclaw',
      SHELL: '/bin/bash',
      PASSED: 'm',
      OPENCLAW_STATE_DIR: '/srv/openclaw/state',
      FROM: 'file', // files override Environment=; UnsetEnvironment=FROM=nothing matches no value
      NODE_OPTIONS: '--max-old-space-size=512',
    });
  });

  it("a bare unit: systemd's default PATH and the account's own basics, nothing else", () => {
    const bare = { ...props, managerEnvironment: '', environment: '', passEnvironment: '', unsetEnvironment: '' };
    expect(unitEnvironment(bare, { account, files: [] })).toEqual({
      PATH: DEFAULT_PATH,
      HOME: '/home/openclaw',
      USER: 'openclaw',
      LOGNAME: 'openclaw',
      SHELL: '/bin/bash',
    });
    // A user unit: its HOME and the rest come from its manager's block, not from a User= line.
    expect(
      unitEnvironment(
        { ...bare, managerEnvironment: 'HOME=/home/u\nXDG_RUNTIME_DIR=/run/user/1000' },
        { account: undefined, files: [] },
      ),
    ).toEqual({
      PATH: DEFAULT_PATH,
      HOME: '/home/u',
      XDG_RUNTIME_DIR: '/run/user/1000',
    });
  });
});

describe('which EnvironmentFile= root may read itself', () => {
  it('one whose folders, as written and as resolved, are all root-only: its real path', async () => {
    expect(await rootsAlone('/etc/passwd')).toBe('/etc/passwd');
  });

  it("one in a folder another account can write, or a link there to root's file: not (read as the account then)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rs-unitenv-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'own.env'), 'A=1\n');
    symlinkSync('/etc/passwd', path.join(dir, 'planted.env'));
    // The run's temp folder sits in /tmp (writable by every account): nothing below it is root's alone.
    expect(await rootsAlone(path.join(dir, 'own.env'))).toBeUndefined();
    expect(await rootsAlone(path.join(dir, 'planted.env'))).toBeUndefined();
    expect(await rootsAlone('relative.env')).toBeUndefined();
    expect(await rootsAlone(path.join(dir, 'missing.env'))).toBeUndefined();
  });
});
