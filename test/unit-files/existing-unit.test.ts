// Reading somebody else's unit (as `systemctl cat` prints it) and the drop-in that keeps how it runs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/store/config.ts';
import type { CommandRunner } from '../../src/service/supervisors/types.ts';
import { timespanSeconds } from '../../src/service/timespan.ts';
import {
  nodeCommandOf,
  packageFileOf,
  parseUnitText,
  portOfUnit,
  readExistingUnit,
  splitUnitWords,
} from '../../src/unit-files/existing-unit.ts';
import { dropInWithNotes, execWord, systemdUnit } from '../../src/unit-files/unit.ts';

const PKG = '/usr/lib/node_modules/openclaw';
const CAT = `# /home/u/.config/systemd/user/openclaw-gateway.service
[Unit]
Description=OpenClaw Gateway
[Service]
ExecStart=/opt/node24/bin/node --max-old-space-size=8192 ${PKG}/dist/index.js gateway --port 19001
Environment=OPENCLAW_GATEWAY_PORT=19001 "OPENCLAW_LABEL=a b"
TimeoutStopSec=330
RestartSec=5
Restart=always
KillMode=mixed

# /home/u/.config/systemd/user/openclaw-gateway.service.d/release-switcher.conf
[Service]
ExecStart=
ExecStart=/x/node /root/current/dist/index.js gateway --port 18789
TimeoutStopSec=30
`;
const ours = (f: string) => f.endsWith('/release-switcher.conf');
/** A systemctl whose `cat` prints `text`, as the manager would. */
const catPrinting =
  (text: string): CommandRunner =>
  async (_file, args) =>
    args.includes('cat')
      ? { exitCode: 0, output: text, timedOut: false }
      : { exitCode: 1, output: '', timedOut: false };
/** The unit's own files through the real reader, our drop-in skipped. */
const readCat = (text: string) =>
  readExistingUnit('openclaw-gateway.service', { scope: 'user', env: {}, runner: catPrinting(text), skip: ours });
const config = {
  ...defaultConfig('openclaw'),
  supervisor: 'systemd' as const,
  unit: 'openclaw-gateway.service',
  node: null,
};

describe('reading an existing unit', () => {
  it("takes the unit's own files, skipping our drop-in, with the last value of each key", () => {
    const unit = parseUnitText(CAT, ours);
    expect(unit.files).toEqual(['/home/u/.config/systemd/user/openclaw-gateway.service']);
    expect(unit.execStart).toEqual([
      '/opt/node24/bin/node',
      '--max-old-space-size=8192',
      `${PKG}/dist/index.js`,
      'gateway',
      '--port',
      '19001',
    ]);
    expect(unit.environment).toEqual({ OPENCLAW_GATEWAY_PORT: '19001', OPENCLAW_LABEL: 'a b' });
    expect(unit.service).toMatchObject({ TimeoutStopSec: '330', RestartSec: '5', KillMode: 'mixed' });
    // Without skipping, the drop-in's values win, as they do for systemd.
    expect(parseUnitText(CAT).service.TimeoutStopSec).toBe('30');
  });

  it('joins lines continued with a backslash, as systemd does, skipping comment lines inside them', async () => {
    const unit = await readCat(`# /home/u/.config/systemd/user/openclaw-gateway.service
[Service]
ExecStart=/opt/node24/bin/node --max-old-space-size=8192 \\
# a comment inside a continued line is dropped, as systemd drops it
  ${PKG}/dist/index.js \\
  ; and this one
  gateway --port 19001
Environment=OPENCLAW_GATEWAY_PORT=19001 \\
    "OPENCLAW_LABEL=a\\
b"
Environment=TRAILING=x\\\\
RestartSec=5
`);
    // The same command as CAT's, which has it on one line.
    expect(unit?.execStart).toEqual(parseUnitText(CAT, ours).execStart);
    // The backslash and the line break become one space, inside quotes too.
    expect(unit?.environment).toEqual({ OPENCLAW_GATEWAY_PORT: '19001', OPENCLAW_LABEL: 'a b', TRAILING: 'x\\' });
    // An escaped backslash at the end (`\\`) continues nothing.
    expect(unit?.service).toEqual({ RestartSec: '5' });
  });

  it('a continued line ends with its file: the next file is read on its own', () => {
    // systemd parses each file on its own: a continuation at the end of one never takes in the next header.
    const unit = parseUnitText(`# /etc/systemd/system/gw.service
[Service]
ExecStart=/usr/bin/node /app/main.js \\
# /etc/systemd/system/gw.service.d/limits.conf
[Service]
RestartSec=5
`);
    expect(unit.files).toEqual(['/etc/systemd/system/gw.service', '/etc/systemd/system/gw.service.d/limits.conf']);
    expect(unit.execStart).toEqual(['/usr/bin/node', '/app/main.js']);
    expect(unit.service).toEqual({ RestartSec: '5' });
  });

  it('TimeoutStopSec=1d is a day, read through the real reader, and a day is kept as the stop budget', async () => {
    const unit = await readCat(CAT.replace('TimeoutStopSec=330', 'TimeoutStopSec=1d'));
    expect(timespanSeconds(unit?.service.TimeoutStopSec)).toBe(86_400);
    const { content, kept } = dropInWithNotes({
      config,
      root: '/srv/rs',
      options: { entry: '', bootCheck: null },
      existing: unit,
    });
    expect(content).not.toContain('TimeoutStopSec');
    expect(kept.join('\n')).toMatch(/^TimeoutStopSec=1d \(at least 330 s/m);
  });

  it('undoes what execWord does', () => {
    for (const word of ['/a b/c', '50%', '$HOME', 'say "hi"\\now', "it's", 'tab\there'])
      expect(splitUnitWords(execWord(word))).toEqual([word]);
  });

  it('reads time spans, ports and node commands', () => {
    expect([
      timespanSeconds('330'),
      timespanSeconds('5s'),
      timespanSeconds('5min 30s'),
      timespanSeconds('1h'),
      timespanSeconds('infinity'),
      timespanSeconds('soon'),
    ]).toEqual([330, 5, 330, 3600, Infinity, undefined]);
    expect(portOfUnit(parseUnitText(CAT, ours))).toEqual({ port: 19001, from: 'ExecStart --port 19001' });
    expect(portOfUnit({ execStart: ['/n', 'x.js', '--port=7'], environment: {}, service: {}, files: [] })).toEqual({
      port: 7,
      from: 'ExecStart --port=7',
    });
    expect(
      portOfUnit({ execStart: ['/n', 'x.js'], environment: { OPENCLAW_GATEWAY_PORT: '9' }, service: {}, files: [] }),
    ).toEqual({ port: 9, from: 'Environment=OPENCLAW_GATEWAY_PORT=9' });
    expect(nodeCommandOf(['/usr/bin/node', '-r', '/x/hook.js', '--inspect', '/app/main.js', 'a'])).toEqual({
      node: '/usr/bin/node',
      nodeOptions: ['-r', '/x/hook.js', '--inspect'],
      script: '/app/main.js',
      args: ['a'],
    });
    expect(nodeCommandOf(['/usr/bin/openclaw', 'gateway'])).toBeNull();
  });
});

describe('the drop-in over an openclaw-shaped unit', () => {
  it('changes only the package path (plus boot-check); keeps options, arguments, timeouts and the working directory', () => {
    const unit = parseUnitText(CAT, ours);
    const { content, kept, changed } = dropInWithNotes({
      config,
      root: '/srv/rs',
      options: { entry: '', bootCheck: null },
      existing: unit,
    });
    expect(content).toContain(
      '\nExecStart=\nExecStart=/opt/node24/bin/node --max-old-space-size=8192 /srv/rs/current/dist/index.js gateway --port 19001\n',
    );
    expect(content).not.toMatch(/TimeoutStopSec|RestartSec=|Restart=|18789/);
    expect(content).toContain('\nRestartPreventExitStatus=78\n'); // the unit sets none
    expect(kept).toEqual(
      expect.arrayContaining([
        'Restart=always',
        'RestartSec=5',
        'Node options: --max-old-space-size=8192',
        'arguments: gateway --port 19001',
      ]),
    );
    expect(changed).toContain(`ExecStart: ${PKG}/dist/index.js -> /srv/rs/current/dist/index.js`);
  });

  it("keeps the working directory the unit has (none: systemd's default); only one inside the adopted package moves under current", () => {
    const run = (text: string) =>
      dropInWithNotes({
        config,
        root: '/srv/rs',
        options: { entry: '', bootCheck: null },
        existing: parseUnitText(text, ours),
      });
    // None: the drop-in writes none, so a user service keeps running in $HOME (openclaw reads ./.env there).
    const none = run(CAT);
    expect(none.content).not.toMatch(/WorkingDirectory/);
    expect(none.kept).toContain(
      "WorkingDirectory: none (systemd's default: the user's home for a user service, / for a system one)",
    );
    expect(none.changed.join('\n')).not.toMatch(/WorkingDirectory/);
    // Outside the package (its state dir, `~`): kept as written.
    for (const dir of ['/home/u/.openclaw', '~', '-/var/lib/openclaw']) {
      const outside = run(CAT.replace('KillMode=mixed', `KillMode=mixed\nWorkingDirectory=${dir}`));
      expect(outside.content, dir).not.toMatch(/WorkingDirectory/);
      expect(outside.kept, dir).toContain(`WorkingDirectory=${dir}`);
    }
    // Inside the package: the same place under current (a `-` stays), said in the notes.
    const inside = run(CAT.replace('KillMode=mixed', `KillMode=mixed\nWorkingDirectory=${PKG}`));
    expect(inside.content).toContain('\nWorkingDirectory=/srv/rs/current\n');
    expect(inside.changed).toContain(
      `WorkingDirectory: ${PKG} -> /srv/rs/current (it was inside the adopted package, which no longer changes)`,
    );
    const below = run(CAT.replace('KillMode=mixed', `KillMode=mixed\nWorkingDirectory=-${PKG}/dist`));
    expect(below.content).toContain('\nWorkingDirectory=-/srv/rs/current/dist\n');
    // A later empty assignment resets it: none.
    expect(
      run(CAT.replace('KillMode=mixed', `KillMode=mixed\nWorkingDirectory=${PKG}\nWorkingDirectory=`)).content,
    ).not.toMatch(/WorkingDirectory/);
    // A unit written from scratch still runs in current.
    expect(systemdUnit(config, '/srv/rs', { entry: 'dist/index.js', bootCheck: null })).toContain(
      '\nWorkingDirectory=/srv/rs/current\n',
    );
  });

  it('`node openclaw.mjs gateway run` started in the package folder: the same file of current, its arguments kept', () => {
    const relative = CAT.replace(
      /^ExecStart=.*$/m,
      `ExecStart=/opt/node24/bin/node openclaw.mjs gateway run\nWorkingDirectory=${PKG}`,
    );
    const { content, kept, changed } = dropInWithNotes({
      config,
      root: '/srv/rs',
      options: { entry: '', bootCheck: null },
      existing: parseUnitText(relative, ours),
    });
    expect(content).toContain(
      '\nExecStart=\nExecStart=/opt/node24/bin/node /srv/rs/current/openclaw.mjs gateway run\n',
    );
    expect(content).toContain('\nWorkingDirectory=/srv/rs/current\n');
    expect(content).not.toMatch(/--port|18789/);
    expect(kept).toContain('arguments: gateway run');
    expect(changed).toContain(`ExecStart: ${PKG}/openclaw.mjs -> /srv/rs/current/openclaw.mjs`);
  });

  it('a unit that runs the package command (cli-command.ts): its file of current, its Node, its arguments; a --node wins', () => {
    const wrapped = CAT.replace(/^ExecStart=.*$/m, 'ExecStart=/home/u/.openclaw/bin/openclaw gateway --bind lan');
    const cli = {
      command: '/home/u/.openclaw/bin/openclaw',
      file: '/home/u/.openclaw/bin/openclaw',
      entry: 'dist/entry.js',
      pkgDir: '/home/u/.openclaw/tools/node-v24.19.0/lib/node_modules/openclaw',
      node: '/home/u/.openclaw/tools/node/bin/node',
      args: ['gateway', '--bind', 'lan'],
    };
    const run = (node: string | null) =>
      dropInWithNotes({
        config: { ...config, node },
        root: '/srv/rs',
        options: { entry: cli.entry, args: cli.args, bootCheck: null },
        existing: parseUnitText(wrapped, ours),
        cli,
      });
    const own = run(null);
    expect(own.content).toContain(
      '\nExecStart=\nExecStart=/home/u/.openclaw/tools/node/bin/node /srv/rs/current/dist/entry.js gateway --bind lan\n',
    );
    expect(own.changed).toContain(
      `ExecStart: ${cli.command} (runs ${cli.pkgDir}/dist/entry.js) -> /srv/rs/current/dist/entry.js`,
    );
    expect(own.kept).toEqual(
      expect.arrayContaining([`Node: ${cli.node} (the one ${cli.command} runs)`, 'arguments: gateway --bind lan']),
    );
    const configured = run('/opt/node26/bin/node');
    expect(configured.content).toContain(
      '\nExecStart=/opt/node26/bin/node /srv/rs/current/dist/entry.js gateway --bind lan\n',
    );
    expect(configured.changed).toContain('Node: /opt/node26/bin/node (the configured --node)');
  });

  it('raises a stop budget below the drain + margin, never lowers one', () => {
    // A service without a preset of its own (openclaw's own budget is the next test's).
    const app = { ...config, package: 'app' };
    const appCat = CAT.replaceAll('/node_modules/openclaw/', '/node_modules/app/');
    const short = parseUnitText(appCat.replace('TimeoutStopSec=330', 'TimeoutStopSec=15'), ours);
    const { content, changed } = dropInWithNotes({
      config: app,
      root: '/srv/rs',
      options: { entry: '', bootCheck: null, drainSeconds: 75 },
      existing: short,
    });
    expect(content).toContain('\nTimeoutStopSec=85\n');
    expect(changed.join('\n')).toMatch(/TimeoutStopSec 15 s -> 85 s/);
    expect(
      dropInWithNotes({
        config: app,
        root: '/srv/rs',
        options: { entry: '', bootCheck: null, drainSeconds: 75 },
        existing: parseUnitText(appCat, ours),
      }).content,
    ).not.toContain('TimeoutStopSec');
    // 0 and infinity mean no SIGKILL at all: nothing to raise.
    for (const none of ['0', 'infinity'])
      expect(
        dropInWithNotes({
          config: app,
          root: '/srv/rs',
          options: { entry: '', bootCheck: null },
          existing: parseUnitText(appCat.replace('TimeoutStopSec=330', `TimeoutStopSec=${none}`), ours),
        }).content,
      ).not.toContain('TimeoutStopSec');
  });

  it('openclaw: never under its own 330 s (325 s shutdown + 5 s), over its unit or from scratch; more when the drain needs it', () => {
    const short = parseUnitText(CAT.replace('TimeoutStopSec=330', 'TimeoutStopSec=90'), ours);
    const raised = dropInWithNotes({
      config,
      root: '/srv/rs',
      options: { entry: '', bootCheck: null },
      existing: short,
    });
    expect(raised.content).toContain('\nTimeoutStopSec=330\n');
    expect(raised.changed.join('\n')).toMatch(
      /TimeoutStopSec 90 s -> 330 s \(325 s \+ 5 s: openclaw's own shutdown budget/,
    );
    const kept = dropInWithNotes({
      config,
      root: '/srv/rs',
      options: { entry: '', bootCheck: null },
      existing: parseUnitText(CAT, ours),
    });
    expect(kept.content).not.toContain('TimeoutStopSec');
    expect(kept.kept).toContain(
      "TimeoutStopSec=330 (at least 330 s: 325 s + 5 s: openclaw's own shutdown budget; its service audit requires TimeoutStopSec=330 or longer)",
    );
    expect(
      dropInWithNotes({
        config,
        root: '/srv/rs',
        options: { entry: '', bootCheck: null },
        existing: parseUnitText(CAT.replace('TimeoutStopSec=330', 'TimeoutStopSec=10min'), ours),
      }).content,
    ).not.toContain('TimeoutStopSec');
    // A unit with no stop budget of its own (systemd's default 90 s) gets 330 too.
    expect(
      dropInWithNotes({
        config,
        root: '/srv/rs',
        options: { entry: '', bootCheck: null },
        existing: parseUnitText(CAT.replace('TimeoutStopSec=330\n', ''), ours),
      }).content,
    ).toContain('\nTimeoutStopSec=330\n');
    // From scratch, with or without the preset named in the config.
    for (const c of [config, { ...config, preset: 'openclaw' }])
      expect(systemdUnit(c, '/srv/rs', { entry: 'dist/index.js', bootCheck: null })).toContain(
        '\nTimeoutStopSec=330\n',
      );
    // A drain longer than openclaw's budget raises it further; another package keeps our 20 s + 10 s.
    expect(systemdUnit(config, '/srv/rs', { entry: 'dist/index.js', bootCheck: null, drainSeconds: 400 })).toContain(
      '\nTimeoutStopSec=410\n',
    );
    expect(systemdUnit({ ...config, package: 'app' }, '/srv/rs', { entry: 'server.js', bootCheck: null })).toContain(
      '\nTimeoutStopSec=30\n',
    );
  });

  it('--node-option: a whole unit runs Node with the given options before the entry', () => {
    const text = systemdUnit({ ...config, node: '/n/node' }, '/srv/rs', {
      entry: 'dist/index.js',
      args: ['gateway'],
      nodeOptions: ['--max-old-space-size=8192'],
      bootCheck: null,
    });
    expect(text).toContain('\nExecStart=/n/node --max-old-space-size=8192 /srv/rs/current/dist/index.js gateway\n');
  });

  it("openclaw's own unit, exactly as `openclaw gateway install` 2026.9.5 renders it: only the package path changes", () => {
    // Rendered by its dist (buildGatewayInstallPlan + buildSystemdUnit) for `--port 18931`; the closing note's real run used it.
    const file = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'openclaw-gateway.service');
    const text = readFileSync(file, 'utf8');
    const unit = parseUnitText(`# ${file}\n${text}`);
    const { content, kept, changed } = dropInWithNotes({
      config: { ...config, node: null },
      root: '/srv/rs',
      options: { entry: '', bootCheck: null },
      existing: unit,
    });
    const theirs = unit.execStart!;
    expect(content).toContain(
      `\nExecStart=\nExecStart=${[...theirs.slice(0, 2), '/srv/rs/current/dist/index.js', ...theirs.slice(3)].join(' ')}\n`,
    );
    expect(theirs.slice(1)).toEqual([
      '--max-old-space-size=8192',
      '/tmp/oc/prefix/lib/node_modules/openclaw/dist/index.js',
      'gateway',
      '--port',
      '18931',
    ]);
    // Its Restart, RestartSec=5, RestartPreventExitStatus=78 and TimeoutStopSec=330 (openclaw's own floor) are all its own.
    // The one environment added is OpenClaw's external-supervisor contract (issue 22): exactly these two lines.
    const contract = /^Environment=OPENCLAW_(SUPERVISOR_MODE|SERVICE_REPAIR_POLICY)=external\n/gm;
    expect(content.match(contract)).toEqual([
      'Environment=OPENCLAW_SUPERVISOR_MODE=external\n',
      'Environment=OPENCLAW_SERVICE_REPAIR_POLICY=external\n',
    ]);
    expect(content.replace(contract, '')).not.toMatch(
      /^(Restart|RestartSec|RestartPreventExitStatus|TimeoutStopSec|Environment|KillMode)=/m,
    );
    expect(kept).toEqual(
      expect.arrayContaining([
        'Restart=always',
        'RestartSec=5',
        'RestartPreventExitStatus=78',
        'Node options: --max-old-space-size=8192',
        'arguments: gateway --port 18931',
      ]),
    );
    expect(kept.join('\n')).toMatch(/^TimeoutStopSec=330 \(at least 330 s/m);
    expect(kept.join('\n')).toMatch(/^Environment: HOME, TMPDIR, .*OPENCLAW_GATEWAY_PORT/m);
    expect(changed[0]).toBe(
      'ExecStart: /tmp/oc/prefix/lib/node_modules/openclaw/dist/index.js -> /srv/rs/current/dist/index.js',
    );
  });
});

describe('packageFileOf: which file of the package a script path names', () => {
  const where = { pkg: 'app', root: '/srv/rs' };
  it.each([
    ['/usr/lib/node_modules/app/dist/index.js', { entry: 'dist/index.js', pkgDir: '/usr/lib/node_modules/app' }],
    ['/srv/rs/current/server.js', { entry: 'server.js', pkgDir: '/srv/rs/current' }],
    ['/srv/rs/current/dist/../server.js', { entry: 'server.js', pkgDir: '/srv/rs/current' }],
    ['/srv/rs/releases/1.0.0/dist/index.js', { entry: 'dist/index.js', pkgDir: '/srv/rs/releases/1.0.0' }],
    ['/srv/rs/current', { entry: '', pkgDir: '/srv/rs/current' }],
    ['/srv/rs/current/', { entry: '', pkgDir: '/srv/rs/current' }],
  ])('%s', (script, found) => {
    expect(packageFileOf(script, where)).toEqual(found);
  });
  it.each(['/opt/app/server.js', '/srv/rs/currently/server.js', '/srv/rs/releases', '/srv/rs/bin/app', 'server.js'])(
    '%s: none',
    (script) => expect(packageFileOf(script, where)).toBeNull(),
  );
  it('without the root, only an install of the package counts', () => {
    expect(packageFileOf('/srv/rs/current/server.js', { pkg: 'app' })).toBeNull();
  });
});

describe("a drop-in over the operator guide's unit, which already runs node <root>/current/server.js", () => {
  const config = { ...defaultConfig('app'), node: null, supervisor: 'systemd' as const, unit: 'app.service' };
  const unit = parseUnitText(
    '# /u/app.service\n[Service]\nExecStart=/usr/bin/node --enable-source-maps /srv/rs/current/server.js --port 8080\n',
  );
  it('runs the same file, Node, options and arguments; the ExecStart is kept, not changed', () => {
    const { content, kept, changed } = dropInWithNotes({
      config,
      root: '/srv/rs',
      options: { entry: '', bootCheck: null },
      existing: unit,
    });
    expect(content).toContain(
      '\nExecStart=\nExecStart=/usr/bin/node --enable-source-maps /srv/rs/current/server.js --port 8080\n',
    );
    expect(kept).toContain('ExecStart: /srv/rs/current/server.js (it already runs /srv/rs/current)');
    expect(changed.join('\n')).not.toMatch(/^ExecStart[: (]/m);
  });
  it('a release path becomes the same file of current', () => {
    const pinned = parseUnitText(
      '# /u/app.service\n[Service]\nExecStart=/usr/bin/node /srv/rs/releases/1.0.0/server.js\n',
    );
    const { content, changed } = dropInWithNotes({
      config,
      root: '/srv/rs',
      options: { entry: '', bootCheck: null },
      existing: pinned,
    });
    expect(content).toContain('\nExecStart=/usr/bin/node /srv/rs/current/server.js\n');
    expect(changed).toContain('ExecStart: /srv/rs/releases/1.0.0/server.js -> /srv/rs/current/server.js');
  });
});
