// launchd: merging `unit` into a plist somebody else wrote. The fixtures were rendered by openclaw 2026.9.5's own
// buildLaunchAgentPlist (dist/launchd-system-*.mjs, what `openclaw gateway install` writes on macOS), with the
// ProgramArguments its install plan gives (`node --max-old-space-size=8192 …/dist/index.js gateway --port N`), plain
// and behind its generated env wrapper (`/bin/sh <label>-env-wrapper.sh <label>.env node …`). launchd itself is not
// run here (Linux): the plist is checked as text and as values, read back with our parser.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { applyEdits, parsePlist, plistValue } from '../../src/unit-files/plist.ts';
import { mergePlist, ourPlist } from '../../src/unit-files/unit-plist.ts';
import { defaultConfig } from '../../src/store/config.ts';
import { cli, tempDir } from '../support/cli.ts';

import { runThisFileAsRoot } from '../support/accounts.ts';
runThisFileAsRoot("it plants the user's plist as root; the account's own plists are a case still to write");

const here = path.dirname(fileURLToPath(import.meta.url));
const PLAIN = readFileSync(path.join(here, 'fixtures', 'openclaw-gateway.plist'), 'utf8');
const WRAPPED = readFileSync(path.join(here, 'fixtures', 'openclaw-gateway-wrapped.plist'), 'utf8');
const PKG = '/opt/homebrew/lib/node_modules/openclaw';
const NODE = '/opt/homebrew/opt/node@24/bin/node';
const config = {
  ...defaultConfig('openclaw'),
  supervisor: 'launchd' as const,
  unit: 'ai.openclaw.gateway',
  node: null,
};
const opts = { entry: '', bootCheck: null };
const values = (xml: string) => plistValue(parsePlist(xml)) as Record<string, unknown>;
const without = (o: Record<string, unknown>, ...keys: string[]) =>
  Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));

describe('reading plists', () => {
  it('reads every kind of value, with entities, comments and empty elements; no edit is the same text', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<!-- a comment -->\n<plist version="1.0">\n<dict>\n\t<key>A &amp; B</key>\n\t<string>x &lt;y&gt; &#x41;&#66;</string>\n\t<key>N</key><integer>-3</integer>\n\t<key>R</key><real>1.5</real>\n\t<key>T</key><true/>\n\t<key>F</key><false/>\n\t<key>E</key><string/>\n\t<key>D</key><date>2026-11-22T00:00:00Z</date>\n\t<key>L</key><array><string>a</string><array/><dict/></array>\n</dict>\n</plist>\n`;
    expect(values(xml)).toEqual({
      'A & B': 'x <y> AB',
      N: -3,
      R: 1.5,
      T: true,
      F: false,
      E: '',
      D: '2026-11-22T00:00:00Z',
      L: ['a', [], {}],
    });
    expect(applyEdits(xml, [])).toBe(xml);
  });

  it("reads openclaw's own plist and our own", () => {
    expect(values(PLAIN)).toMatchObject({
      Label: 'ai.openclaw.gateway',
      KeepAlive: true,
      RunAtLoad: true,
      ExitTimeOut: 20,
      ThrottleInterval: 10,
      Umask: 63,
      ProgramArguments: [NODE, '--max-old-space-size=8192', `${PKG}/dist/index.js`, 'gateway', '--port', '18931'],
      EnvironmentVariables: expect.objectContaining({ OPENCLAW_GATEWAY_PORT: '18931', NODE_OPTIONS: '' }),
    });
    const ours = ourPlist({ ...config, node: '/n/node' }, '/srv/rs', 'ai.openclaw.gateway', {
      entry: 'dist/index.js',
      args: ['gateway'],
      nodeOptions: ['--max-old-space-size=512'],
    });
    // XML forbids `--` inside a comment (plutil and launchd would refuse the file): our marker has none.
    for (const [, body] of ours.matchAll(/<!--([\s\S]*?)-->/g)) expect(body).not.toContain('--');
    expect(values(ours)).toEqual({
      Label: 'ai.openclaw.gateway',
      ProgramArguments: ['/n/node', '--max-old-space-size=512', '/srv/rs/current/dist/index.js', 'gateway'],
      WorkingDirectory: '/srv/rs/current',
      RunAtLoad: true,
      KeepAlive: true,
      ExitTimeOut: 330,
    });
  });

  it('refuses what is not an XML plist with UNSUPPORTED and a hint', () => {
    for (const text of [
      'bplist00\u0000\u0001',
      '<plist><dict><key>A</key></dict></plist>',
      '<plist><dict><string>x</string></dict></plist>',
      '<plist><dict/></plist>trailing',
      '<plist><dict><key>A</key><string>&bogus;</string></dict></plist>',
    ]) {
      expect(() => parsePlist(text), text).toThrow(
        expect.objectContaining({ code: 'UNSUPPORTED', hint: expect.stringContaining('plutil') }),
      );
    }
  });
});

describe("merging into openclaw's plist", () => {
  it("changes only the package path and raises ExitTimeOut to openclaw's 330 s; every other byte stays", () => {
    const { content, kept, changed } = mergePlist(PLAIN, config, '/srv/rs', opts);
    const before = values(PLAIN);
    const after = values(content);
    expect(after.ProgramArguments).toEqual([
      NODE,
      '--max-old-space-size=8192',
      '/srv/rs/current/dist/index.js',
      'gateway',
      '--port',
      '18931',
    ]);
    expect(after.ExitTimeOut).toBe(330);
    expect(without(after, 'ProgramArguments', 'ExitTimeOut')).toEqual(
      without(before, 'ProgramArguments', 'ExitTimeOut'),
    );
    // As text: exactly two values differ.
    expect(content).toBe(
      PLAIN.replace(`<string>${PKG}/dist/index.js</string>`, '<string>/srv/rs/current/dist/index.js</string>').replace(
        '<integer>20</integer>',
        '<integer>330</integer>',
      ),
    );
    expect(changed).toEqual([
      `ProgramArguments: ${PKG}/dist/index.js -> /srv/rs/current/dist/index.js`,
      expect.stringMatching(/^ExitTimeOut 20 s -> 330 s \(325 s \+ 5 s: openclaw's own shutdown budget/),
    ]);
    expect(kept).toEqual(
      expect.arrayContaining([
        'Node options: --max-old-space-size=8192',
        'arguments: gateway --port 18931',
        'WorkingDirectory=/Users/ada/.openclaw',
        'KeepAlive true',
        expect.stringMatching(/^EnvironmentVariables: HOME, PATH, OPENCLAW_GATEWAY_PORT/),
      ]),
    );
    // Merging again changes nothing more (the script is already under current).
    expect(mergePlist(content, config, '/srv/rs', opts).content).toBe(content);
  });

  it("behind openclaw's env wrapper: the wrapper stays, the Node after it runs current; a configured Node replaces theirs", () => {
    const { content, kept, changed } = mergePlist(
      WRAPPED,
      { ...config, node: '/usr/local/bin/node24' },
      '/srv/rs',
      opts,
    );
    expect(values(content).ProgramArguments).toEqual([
      '/bin/sh',
      '/Users/ada/.openclaw/service-env/ai.openclaw.gateway-env-wrapper.sh',
      '/Users/ada/.openclaw/service-env/ai.openclaw.gateway.env',
      '/usr/local/bin/node24',
      '--max-old-space-size=8192',
      '/srv/rs/current/dist/index.js',
      'gateway',
      '--port',
      '18931',
    ]);
    expect(kept[0]).toBe(
      'wrapper: /bin/sh /Users/ada/.openclaw/service-env/ai.openclaw.gateway-env-wrapper.sh /Users/ada/.openclaw/service-env/ai.openclaw.gateway.env',
    );
    expect(changed).toContain(`Node: ${NODE} -> /usr/local/bin/node24 (the configured --node)`);
  });

  it('never lowers ExitTimeOut, keeps KeepAlive as it is, adds what launchd would otherwise default', () => {
    const app = { ...config, package: 'app' };
    const appPlist = PLAIN.replaceAll('/node_modules/openclaw/', '/node_modules/app/');
    const long = mergePlist(
      appPlist
        .replace('<integer>20</integer>', '<integer>600</integer>')
        .replace(
          '<key>KeepAlive</key>\n    <true/>',
          '<key>KeepAlive</key>\n    <dict><key>SuccessfulExit</key><false/></dict>',
        ),
      app,
      '/srv/rs',
      opts,
    );
    expect(values(long.content)).toMatchObject({ ExitTimeOut: 600, KeepAlive: { SuccessfulExit: false } });
    expect(long.kept).toEqual(
      expect.arrayContaining(['KeepAlive {SuccessfulExit}', expect.stringMatching(/^ExitTimeOut=600 \(at least 30 s/)]),
    );
    // No ExitTimeOut (launchd's 20 s) and no KeepAlive: both are added after the last key, indented like it.
    const bare = appPlist
      .replace('    <key>ExitTimeOut</key>\n    <integer>20</integer>\n', '')
      .replace('    <key>KeepAlive</key>\n    <true/>\n', '');
    const merged = mergePlist(bare, app, '/srv/rs', { ...opts, drainSeconds: 45 });
    expect(values(merged.content)).toMatchObject({ ExitTimeOut: 55, KeepAlive: true });
    expect(merged.content).toContain(
      '    </dict>\n    <key>ExitTimeOut</key>\n    <integer>55</integer>\n    <key>KeepAlive</key>\n    <true/>\n  </dict>\n</plist>',
    );
    expect(merged.changed).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^ExitTimeOut 20 s \(launchd default\) -> 55 s/),
        'KeepAlive -> true (restart whenever it exits)',
      ]),
    );
  });

  it('--node-option/--arg/--entry replace what they name; a working directory inside the package moves to current', () => {
    const inPkg = PLAIN.replace('<string>/Users/ada/.openclaw</string>', `<string>${PKG}</string>`);
    const r = mergePlist(inPkg, config, '/srv/rs', { ...opts, nodeOptions: ['--max-old-space-size=4096'] });
    expect(values(r.content)).toMatchObject({
      ProgramArguments: [
        NODE,
        '--max-old-space-size=4096',
        '/srv/rs/current/dist/index.js',
        'gateway',
        '--port',
        '18931',
      ],
      WorkingDirectory: '/srv/rs/current',
    });
    expect(r.content).toContain('    <array>\n      <string>');
    expect(r.changed).toEqual(
      expect.arrayContaining([
        'Node options: --max-old-space-size=4096',
        `WorkingDirectory: ${PKG} -> /srv/rs/current`,
      ]),
    );
    const entry = mergePlist(PLAIN, config, '/srv/rs', {
      entry: 'server.js',
      args: ['x'],
      entryGiven: true,
      bootCheck: null,
    });
    expect(values(entry.content).ProgramArguments).toEqual([process.execPath, '/srv/rs/current/server.js', 'x']);
  });
});

describe('unit --install under launchd over an existing plist', () => {
  it('merges it (a copy of the original kept beside it), then merges again to the same text; a binary plist is refused', async () => {
    const dir = tempDir('rs-plist-');
    const root = path.join(dir, 'root');
    const home = path.join(dir, 'home');
    const rs = (args: string[]) => cli(['--root', root, '--json', ...args], { env: { HOME: home } });
    expect(
      (
        await rs([
          'init',
          '--preset',
          'openclaw',
          '--supervisor',
          'launchd',
          '--unit',
          'ai.openclaw.gateway',
          '--node',
          process.execPath,
        ])
      ).exitCode,
    ).toBe(0);
    const file = path.join(home, 'Library', 'LaunchAgents', 'ai.openclaw.gateway.plist');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, PLAIN);
    const printed = await rs(['unit']);
    expect(printed.exitCode, printed.stdout + printed.stderr).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(PLAIN); // printing writes nothing
    // What a person sees: stdout is exactly the plist (redirected, a valid plist), the notes on stderr.
    const shown = await cli(['--root', root, 'unit'], { env: { HOME: home } });
    expect(shown.exitCode, shown.stderr).toBe(0);
    expect(`${shown.stdout}\n`).toBe(printed.json.result.content); // execa strips one final newline
    expect(shown.stdout.trimEnd().endsWith('</plist>')).toBe(true);
    expect(shown.stderr).toContain('kept: Node options: --max-old-space-size=8192');
    expect(shown.stderr).toContain(`changed: ProgramArguments: ${PKG}/dist/index.js -> ${root}/current/dist/index.js`);
    const installed = await rs(['unit', '--install']);
    expect(installed.exitCode, installed.stdout + installed.stderr).toBe(0);
    expect(installed.json.result).toEqual({ ...printed.json.result, installed: true });
    const after = values(readFileSync(file, 'utf8'));
    expect(after).toMatchObject({
      ProgramArguments: [
        process.execPath,
        '--max-old-space-size=8192',
        `${root}/current/dist/index.js`,
        'gateway',
        '--port',
        '18931',
      ],
      ExitTimeOut: 330,
    });
    expect(without(after, 'ProgramArguments', 'ExitTimeOut')).toEqual(
      without(values(PLAIN), 'ProgramArguments', 'ExitTimeOut'),
    );
    expect(readFileSync(`${file}.before-release-switcher`, 'utf8')).toBe(PLAIN);
    const human = await cli(['--root', root, 'unit', '--install'], { env: { HOME: home } });
    expect(human.stdout).toContain('kept: Node options: --max-old-space-size=8192');
    expect(readFileSync(file, 'utf8')).toBe(installed.json.result.content);
    expect(readFileSync(`${file}.before-release-switcher`, 'utf8')).toBe(PLAIN);
    // A plist that is not a plist: refused, nothing written.
    writeFileSync(file, 'bplist00 binary');
    const refused = await rs(['unit', '--install']);
    expect({ exitCode: refused.exitCode, code: refused.json?.error?.code }).toEqual({
      exitCode: 1,
      code: 'UNSUPPORTED',
    });
    expect(readFileSync(file, 'utf8')).toBe('bplist00 binary');
  });
});
