// There is no launchd on the machines that run this suite (Linux). So this checks what we can without it:
// the exact launchctl command lines (through a fake runner), the parsing of `launchctl print` output in the
// shape macOS prints it (samples modelled on published captures), and that the plist is well-formed XML.
import { describe, expect, it } from 'vitest';
import { ReleaseSwitcherError } from '../../../src/model/errors.ts';
import { launchdPlist, launchdSupervisor, parseLaunchctlPrint } from '../../../src/service/supervisors/launchd.ts';
import type { CommandRunner } from '../../../src/service/supervisors/types.ts';

const LABEL = 'ai.openclaw.gateway';

const RUNNING = `gui/501/ai.openclaw.gateway = {
\tactive count = 1
\tpath = /Users/ada/Library/LaunchAgents/ai.openclaw.gateway.plist
\ttype = LaunchAgent
\tstate = running

\tprogram = /opt/homebrew/bin/node
\targuments = {
\t\t/opt/homebrew/bin/node
\t\t/Users/ada/.local/share/release-switcher/current/dist/index.js
\t\tgateway
\t}

\tworking directory = /Users/ada/.local/share/release-switcher

\tstdout path = /Users/ada/Library/Logs/openclaw/gateway.log
\tstderr path = /Users/ada/Library/Logs/openclaw/gateway.log
\tinherited environment = {
\t\tSSH_AUTH_SOCK => /private/tmp/com.apple.launchd.x/Listeners
\t}

\tdefault environment = {
\t\tPATH => /usr/bin:/bin:/usr/sbin:/sbin
\t}

\tdomain = gui/501 [100005]
\tasid = 100005
\tminimum runtime = 10
\texit timeout = 5
\truns = 3
\tpid = 4242
\timmediate reason = speculative
\tforks = 0
\texecs = 1
\tinitialized = 1
\ttrampolined = 1
\tstarted suspended = 0
\tproxies suspended = 0
\tlast terminating signal = Terminated: 15

\tspawn type = daemon (3)
\tjetsam priority = 40
\tjetsam memory limit (active, soft) = 2048 MB

\tendpoints = {
\t\t"ai.openclaw.gateway.socket" = {
\t\t\tport = 0x1a03
\t\t\tactive = 0
\t\t\tstate = active
\t\t}
\t}

\tproperties = partial import | keepalive | runatload | inferred program
}
`;

// A release that refuses old state exits 78 ("do not restart me"); launchd shows the sysexits name.
const EXITED_78 = `gui/501/ai.openclaw.gateway = {
\tactive count = 0
\tpath = /Users/ada/Library/LaunchAgents/ai.openclaw.gateway.plist
\ttype = LaunchAgent
\tstate = not running

\tprogram = /opt/homebrew/bin/node
\tdomain = gui/501 [100005]
\tminimum runtime = 10
\texit timeout = 5
\truns = 7
\tlast exit code = 78: EX_CONFIG

\tspawn type = daemon (3)
\tproperties = partial import | keepalive | runatload | inferred program | penalty box
}
`;

const NOT_FOUND = `Bad request.
Could not find service "ai.openclaw.gateway" in domain for user gui: 501
`;

function fakeRunner(
  reply: (args: string[]) => { exitCode: number; output: string } = () => ({ exitCode: 0, output: '' }),
) {
  const calls: { file: string; args: string[]; timeoutMs: number }[] = [];
  const runner: CommandRunner = async (file, args, options) => {
    calls.push({ file, args, timeoutMs: options.timeoutMs });
    return { ...reply(args), timedOut: false };
  };
  return { calls, runner };
}

describe('launchdSupervisor command lines', () => {
  it('drives gui/<uid>/<label> by default, with absolute launchctl', async () => {
    const { calls, runner } = fakeRunner((args) => ({ exitCode: 0, output: args[0] === 'print' ? RUNNING : '' }));
    const supervisor = launchdSupervisor({ label: LABEL, uid: 501, env: {}, runner });
    expect(supervisor).toMatchObject({ name: 'launchd', unit: LABEL });
    await supervisor.restart();
    await supervisor.start();
    await supervisor.state();
    expect(calls.map((c) => [c.file, ...c.args].join(' '))).toEqual([
      '/bin/launchctl kickstart -k gui/501/ai.openclaw.gateway',
      '/bin/launchctl kickstart gui/501/ai.openclaw.gateway',
      '/bin/launchctl print gui/501/ai.openclaw.gateway',
    ]);
    expect(calls.every((c) => c.timeoutMs > 0)).toBe(true);
  });

  it('drives system/<label> for a LaunchDaemon (no uid in the target)', async () => {
    const { calls, runner } = fakeRunner();
    const supervisor = launchdSupervisor({
      label: LABEL,
      uid: 501,
      env: {},
      domain: 'system',
      runner,
      launchctl: 'launchctl',
    });
    await supervisor.restart();
    await supervisor.start();
    expect(calls.map((c) => [c.file, ...c.args].join(' '))).toEqual([
      'launchctl kickstart -k system/ai.openclaw.gateway',
      'launchctl kickstart system/ai.openclaw.gateway',
    ]);
  });

  it('turns a refusal into SUPERVISOR_FAILED with the output and a bootstrap hint', async () => {
    const { runner } = fakeRunner(() => ({ exitCode: 113, output: NOT_FOUND }));
    const supervisor = launchdSupervisor({ label: LABEL, uid: 501, env: {}, runner });
    const error = await supervisor.restart().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReleaseSwitcherError);
    expect(error).toMatchObject({ code: 'SUPERVISOR_FAILED' });
    expect((error as Error).message).toContain('kickstart -k gui/501/ai.openclaw.gateway exited with 113');
    expect((error as Error).message).toContain('Could not find service');
    expect((error as ReleaseSwitcherError).hint).toBe(
      'Load the job first: launchctl bootstrap gui/501 ~/Library/LaunchAgents/ai.openclaw.gateway.plist',
    );
  });

  it('reports an unloaded service as not-found rather than throwing', async () => {
    const { runner } = fakeRunner(() => ({ exitCode: 113, output: NOT_FOUND }));
    expect(await launchdSupervisor({ label: LABEL, uid: 501, env: {}, runner }).state()).toMatchObject({
      active: false,
      state: 'not-found',
      mainPid: null,
      restarts: null,
      exitStatus: null,
    });
  });
});

describe('parseLaunchctlPrint', () => {
  it('reads a running job from its own lines, not from nested blocks', () => {
    expect(parseLaunchctlPrint(RUNNING)).toEqual({
      active: true,
      state: 'running',
      mainPid: 4242,
      processes: { pids: [4242] },
      restarts: 3,
      exitStatus: null,
      detail: 'last terminating signal = Terminated: 15',
    });
  });

  it('reads an exited job with its exit code 78', () => {
    expect(parseLaunchctlPrint(EXITED_78)).toEqual({
      active: false,
      state: 'not running',
      mainPid: null,
      processes: { pids: [] },
      restarts: 7,
      exitStatus: 78,
      detail: 'last exit code = 78: EX_CONFIG, penalty box',
    });
  });

  it('handles a job that never exited, a bare exit code, and the body without its header', () => {
    const body =
      '\tcoalition = {\n\t\tstate = active\n\t\tpid = 1\n\t}\n\tstate = spawn scheduled\n\truns = 36\n\tlast exit code = 1\n';
    expect(parseLaunchctlPrint(body)).toEqual({
      active: false,
      state: 'spawn scheduled',
      mainPid: null,
      processes: { pids: [] },
      restarts: 36,
      exitStatus: 1,
    });
    const fresh = 'gui/501/x = {\n\tstate = running\n\truns = 1\n\tpid = 9\n\tlast exit code = (never exited)\n}\n';
    expect(parseLaunchctlPrint(fresh)).toEqual({
      active: true,
      state: 'running',
      mainPid: 9,
      processes: { pids: [9] },
      restarts: 1,
      exitStatus: null,
    });
  });
});

/** A reader for the plist subset we write: enough to prove it parses back to what went in. */
function readPlist(xml: string): unknown {
  expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC')).toBe(true);
  const body = xml.replace(/^<\?xml[^>]*\?>\s*<!DOCTYPE[^>]*>\s*/, '');
  const tokens = body.match(/<[^>]*>|[^<]+/g) ?? [];
  let i = 0;
  const unescapeXml = (text: string) => {
    expect(text).not.toMatch(/&(?!(amp|lt|gt|quot|apos);)|>/); // raw & or > in character data
    return text
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, '&');
  };
  const skipSpace = () => {
    while (i < tokens.length && /^\s+$/.test(tokens[i]!)) i++;
  };
  const next = (): string => {
    skipSpace();
    const token = tokens[i++];
    if (token === undefined) throw new Error('unexpected end of plist');
    return token;
  };
  const textUntil = (close: string): string => {
    let text = '';
    while (tokens[i] !== close) {
      if (tokens[i] === undefined || tokens[i]!.startsWith('<')) throw new Error(`expected ${close}, got ${tokens[i]}`);
      text += tokens[i++];
    }
    i++;
    return unescapeXml(text);
  };
  const value = (): unknown => {
    const open = next();
    if (open === '<true/>') return true;
    if (open === '<false/>') return false;
    if (open === '<string>') return textUntil('</string>');
    if (open === '<array>') {
      const items: unknown[] = [];
      for (;;) {
        skipSpace();
        if (tokens[i] === '</array>') {
          i++;
          return items;
        }
        items.push(value());
      }
    }
    if (open === '<dict>') {
      const dict: Record<string, unknown> = {};
      for (;;) {
        const key = next();
        if (key === '</dict>') return dict;
        if (key !== '<key>') throw new Error(`expected <key>, got ${key}`);
        dict[textUntil('</key>')] = value();
      }
    }
    throw new Error(`unexpected ${open}`);
  };
  expect(next()).toBe('<plist version="1.0">');
  const root = value();
  expect(next()).toBe('</plist>');
  expect(tokens.slice(i).join('').trim()).toBe('');
  return root;
}

describe('launchdPlist', () => {
  it('writes well-formed XML that reads back to the same values, escaped', () => {
    const tricky = 'a & b <c> "d" \'e\' ]]> é';
    const xml = launchdPlist({
      label: LABEL,
      program: ['/opt/homebrew/bin/node', '/Users/ada/rs/current/dist/index.js', tricky],
      workingDirectory: '/Users/ada/rs & co',
      env: { NODE_ENV: 'production', 'A&B': '<x>' },
      stdoutPath: '/tmp/out.log',
      stderrPath: '/tmp/err.log',
    });
    expect(xml).toContain('<string>a &amp; b &lt;c&gt; "d" \'e\' ]]&gt; é</string>');
    expect(readPlist(xml)).toEqual({
      Label: LABEL,
      ProgramArguments: ['/opt/homebrew/bin/node', '/Users/ada/rs/current/dist/index.js', tricky],
      WorkingDirectory: '/Users/ada/rs & co',
      EnvironmentVariables: { NODE_ENV: 'production', 'A&B': '<x>' },
      StandardOutPath: '/tmp/out.log',
      StandardErrorPath: '/tmp/err.log',
      RunAtLoad: true,
      KeepAlive: true,
    });
  });

  it('leaves out what is not given, and refuses control characters XML cannot hold', () => {
    expect(readPlist(launchdPlist({ label: 'x', program: ['/bin/true'], keepAlive: false }))).toEqual({
      Label: 'x',
      ProgramArguments: ['/bin/true'],
      RunAtLoad: true,
      KeepAlive: false,
    });
    expect(() => launchdPlist({ label: 'x', program: ['/bin/echo', 'bell\u0007'] })).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED' }),
    );
  });
});
