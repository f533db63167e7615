// Real openclaw under a private systemd --user: a manual `rollback` against a bare `systemctl restart` of the same
// release (issue 12's third figure). Same run, alternating, medians.
//
//   npm run build
//   /path/to/node24 bench/openclaw-rollback.mts [--adopt DIR] [--reps 3] [--keep]
//
// Needs root on Linux (the private user manager of test/support/systemd.ts, imported as TypeScript: Node >= 23.6
// strips the types) and Node 24 (openclaw 2026.9.x refuses older). npm's cache is $npm_config_cache (default
// /work/cache/npm-shared); the registry is npm's own config.
//
// Setup: `init --preset openclaw --stable-for 0` (the stability window is a deliberate wait, left out of "command to
// verified"), 2026.9.5 installed (or adopted from an `npm install -g` folder) and run by a unit
// `<node> <root>/current/dist/index.js gateway --port P` (P != 18789, a state dir of its own), 2026.9.6 installed and
// switched to. Then each repetition, in alternating order:
//   - ours: `release-switcher rollback` (2026.9.6 <-> 2026.9.5; the preset's rehearsal runs before the flip);
//   - anchor: `systemctl --user restart` of the unit (the release `current` names).
// /startupz is polled every 50 ms throughout. Unavailability: the gap between the last answer before the restart and
// the first one after it (for ours: the last answer of the release left and the first of the target). Command to
// verified: the rollback command's wall time; the anchor's counterpart is restart + first healthy answer.
// Goals (issue 12): unavailability <= 1.1x the anchor's; command to verified <= anchor + 2 s.
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { startUserManager } from '../test/support/systemd.ts';

const { values: opts } = parseArgs({ options: { adopt: { type: 'string' }, reps: { type: 'string', default: '3' }, keep: { type: 'boolean', default: false } } });
const REPS = Math.max(1, Number(opts.reps));
const PROJECT = path.resolve(import.meta.dirname, '..');
const NODE = process.execPath;
if (Number(process.versions.node.split('.')[0]) < 24) throw new Error(`run this with Node 24 (openclaw 2026.9.x needs it); this is ${process.version}`);

const work = mkdtempSync(path.join(tmpdir(), 'rs-bench-rb-oc-'));
// The CLI this run measures, copied: a build during the run must not change it under our feet.
const built = path.join(work, 'rs');
cpSync(path.join(PROJECT, 'dist'), path.join(built, 'dist'), { recursive: true });
cpSync(path.join(PROJECT, 'package.json'), path.join(built, 'package.json'));
symlinkSync(path.join(PROJECT, 'node_modules'), path.join(built, 'node_modules'));
const CLI = path.join(built, 'dist/cli/main.js');
const { systemdUnit } = await import(path.join(built, 'dist/service/unit.js'));
const { validateConfig } = await import(path.join(built, 'dist/store/config.js'));

const root = path.join(work, 'root');
const live = path.join(work, 'live-openclaw');
const port = 28000 + Math.floor(Math.random() * 1000);
const cache = process.env.npm_config_cache ?? '/work/cache/npm-shared';
const t0 = performance.now();
const log = (text: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${text}`);

const manager = await startUserManager({ name: 'bench-rb-oc' });
const env: Record<string, string> = {
  ...(manager.env as Record<string, string>),
  PATH: `${path.dirname(NODE)}:${process.env.PATH}`,
  OPENCLAW_STATE_DIR: live,
  npm_config_cache: cache,
  npm_config_logs_dir: path.join(work, 'npm-logs'),
  npm_config_update_notifier: 'false',
  ...Object.fromEntries(['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'].flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : []))),
};
const rs = async (args: string[]) => {
  const started = performance.now();
  const r = await execa(NODE, [CLI, '--root', root, '--json', ...args], { env, extendEnv: false, reject: false, timeout: 1_800_000 });
  let json: any;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { exitCode: r.exitCode, json, stderr: r.stderr, ms: performance.now() - started };
};
const must = async (args: string[]) => {
  const r = await rs(args);
  if (r.exitCode !== 0) throw new Error(`release-switcher ${args.join(' ')}: exit ${r.exitCode}\n${JSON.stringify(r.json?.error ?? r.json)}\n${r.stderr.slice(-3000)}`);
  return r;
};

const UNIT = 'openclaw-gateway.service';
const health = `http://127.0.0.1:${port}/startupz`;
const mainPid = async () => Number((await manager.systemctl(['show', UNIT, '--property=MainPID', '--value'])).stdout.trim());

interface Poll {
  answers: Array<{ at: number; version: string }>;
  stop: () => Promise<void>;
}
/** GET /startupz every 50 ms; each 200 answer with a version is kept with its time. */
function poll(): Poll {
  const p: Poll = { answers: [], stop: async () => {} };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const sent = performance.now();
      try {
        const res = await fetch(health, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json().catch(() => ({}))) as { version?: string };
        if (res.status === 200 && body.version) p.answers.push({ at: performance.now(), version: body.version });
      } catch {
        // refused or timed out: not an answer
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 50 - (performance.now() - sent))));
    }
  })();
  p.stop = async () => {
    stopped = true;
    await loop;
  };
  return p;
}
/** Wait until `accept` holds of an answer, or fail after `ms`. */
async function until(p: Poll, accept: (a: Poll['answers'][number]) => boolean, ms: number, what: string) {
  const deadline = performance.now() + ms;
  for (;;) {
    const found = p.answers.find(accept);
    if (found) return found;
    if (performance.now() > deadline) throw new Error(`no ${what} within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
/** The longest stretch without an answer in [from, to]. */
const longestGap = (answers: Poll['answers'], from: number, to: number) => {
  const times = [from, ...answers.map((a) => a.at).filter((t) => t >= from && t <= to), to];
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  return gap;
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

const results: Record<string, unknown> = { node: process.version, port, reps: REPS, date: new Date().toISOString() };
try {
  mkdirSync(live, { recursive: true });
  writeFileSync(path.join(live, 'openclaw.json'), JSON.stringify({
    gateway: { mode: 'local', bind: 'loopback', port, auth: { mode: 'token', token: randomBytes(24).toString('hex') }, controlUi: { enabled: false }, tailscale: { mode: 'off' } },
    discovery: { mdns: { mode: 'off' } },
  }));
  await must(['init', '--preset', 'openclaw', '--node', NODE, '--unit', UNIT, '--health-url', health, '--verify-timeout', '240', '--stable-for', '0', ...(opts.adopt ? ['--adopt', opts.adopt] : [])]);
  if (!opts.adopt) log(`install openclaw@2026.9.5: ${sec((await must(['install', 'openclaw@2026.9.5'])).ms)}`);
  else log(`adopted ${opts.adopt}`);
  const config = validateConfig(JSON.parse(readFileSync(path.join(root, 'config.json'), 'utf8')), 'config.json');
  const gwLog = path.join(work, 'gateway.log');
  let unit: string = systemdUnit(config, root, { entry: 'dist/index.js', args: ['gateway', '--port', String(port)], scope: 'user', bootCheck: [NODE, CLI, '--root', root, 'boot-check'] });
  unit = unit.replace('[Service]\n', ['[Service]', `Environment=OPENCLAW_STATE_DIR=${live}`, `Environment=HOME=${path.join(work, 'home')}`, 'Environment=OPENCLAW_NO_AUTO_UPDATE=1',
    'Environment=OPENCLAW_SKIP_CHANNELS=1', 'Environment=OPENCLAW_SKIP_PROVIDERS=1', `StandardOutput=append:${gwLog}`, `StandardError=append:${gwLog}`, ''].join('\n'));
  mkdirSync(path.join(work, 'home'));
  await manager.writeUnit(UNIT, unit);
  if (!opts.adopt) await must(['switch', '2026.9.5', '--no-preflight']);
  else if ((await manager.systemctl(['start', UNIT])).exitCode !== 0) throw new Error('the unit did not start');
  await manager.waitFor(async () => (await fetch(health, { signal: AbortSignal.timeout(1000) }).catch(() => null))?.status === 200, { timeoutMs: 300_000, intervalMs: 250, what: 'the 2026.9.5 gateway' });
  log('2026.9.5 answers /startupz');
  log(`install openclaw@2026.9.6: ${sec((await must(['install', 'openclaw@2026.9.6'])).ms)}`);
  const first = await must(['switch', '2026.9.6', '--no-preflight']);
  log(`switch 2026.9.6: ${first.json?.result?.status} in ${sec(first.ms)}`);
  let current = '2026.9.6';

  const ours: Array<{ unavailable: number; command: number; steps: Record<string, number> }> = [];
  const anchor: Array<{ unavailable: number; restart: number; toHealthy: number }> = [];
  const runOurs = async () => {
    const target = current === '2026.9.6' ? '2026.9.5' : '2026.9.6';
    const p = poll();
    await until(p, (a) => a.version === current, 30_000, `answer from ${current} before the rollback`);
    const r = await rs(['rollback']);
    if (r.exitCode !== 0 || r.json?.result?.status !== 'verified') throw new Error(`rollback: ${JSON.stringify(r.json).slice(0, 3000)}`);
    const firstNew = await until(p, (a) => a.version === target, 60_000, `answer from ${target}`);
    await p.stop();
    const lastOld = [...p.answers].reverse().find((a) => a.at < firstNew.at && a.version !== target)!;
    current = target;
    const steps = Object.fromEntries(r.json.result.steps.map((s: { name: string; ms: number }) => [s.name, s.ms]));
    ours.push({ unavailable: firstNew.at - lastOld.at, command: r.ms, steps });
    log(`ours    -> ${target}: unavailable ${sec(firstNew.at - lastOld.at)}, command to verified ${sec(r.ms)}, steps ${JSON.stringify(steps)}`);
  };
  const runAnchor = async () => {
    const before = await mainPid();
    const p = poll();
    await until(p, () => true, 30_000, 'answer before the restart');
    const started = performance.now();
    const r = await manager.systemctl(['restart', UNIT], { timeoutMs: 400_000 });
    const restart = performance.now() - started;
    if (r.exitCode !== 0) throw new Error(`systemctl restart: ${r.stderr}`);
    const after = await mainPid();
    if (after === before) throw new Error('the restart did not change the main process');
    // The first answer after a stretch without one that began after the restart was asked for.
    await manager.waitFor(() => {
      const gapStart = p.answers.findIndex((a, i) => a.at > started && i > 0 && a.at - p.answers[i - 1]!.at > 500);
      return gapStart >= 0;
    }, { timeoutMs: 120_000, intervalMs: 50, what: 'the first answer after the restart' });
    const i = p.answers.findIndex((a, k) => a.at > started && k > 0 && a.at - p.answers[k - 1]!.at > 500);
    await p.stop();
    const firstNew = p.answers[i]!;
    anchor.push({ unavailable: firstNew.at - p.answers[i - 1]!.at, restart, toHealthy: firstNew.at - started });
    log(`anchor  (${current}): unavailable ${sec(firstNew.at - p.answers[i - 1]!.at)}, systemctl restart ${sec(restart)}, restart to first answer ${sec(firstNew.at - started)}`);
  };
  for (let rep = 0; rep < REPS; rep++) {
    for (const run of rep % 2 === 0 ? [runOurs, runAnchor] : [runAnchor, runOurs]) {
      await run();
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  const m = {
    oursUnavailable: median(ours.map((r) => r.unavailable)),
    oursCommand: median(ours.map((r) => r.command)),
    anchorUnavailable: median(anchor.map((r) => r.unavailable)),
    anchorToHealthy: median(anchor.map((r) => r.toHealthy)),
  };
  results.runs = { ours, anchor };
  results.medians = m;
  results.loadavg = loadavg();
  console.log([
    '',
    `openclaw rollback bench: ${REPS} repetitions, alternating; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${cpus().length} CPUs); /startupz polled every 50 ms`,
    `  ours, unavailable (last answer of the release left -> first of the target): median ${sec(m.oursUnavailable)}  spread ${sec(Math.min(...ours.map((r) => r.unavailable)))}..${sec(Math.max(...ours.map((r) => r.unavailable)))}`,
    `  anchor, unavailable around systemctl restart:                                median ${sec(m.anchorUnavailable)}  spread ${sec(Math.min(...anchor.map((r) => r.unavailable)))}..${sec(Math.max(...anchor.map((r) => r.unavailable)))}`,
    `  ratio unavailable ours / anchor: ${(m.oursUnavailable / m.anchorUnavailable).toFixed(2)}x (goal <= 1.1x)`,
    `  ours, command to verified (stable-for 0): median ${sec(m.oursCommand)}  spread ${sec(Math.min(...ours.map((r) => r.command)))}..${sec(Math.max(...ours.map((r) => r.command)))}`,
    `  anchor, restart + first healthy answer:   median ${sec(m.anchorToHealthy)}; + 2 s = ${sec(m.anchorToHealthy + 2000)} (goal: ours <= that)`,
    `  ours' steps (median ms): ${JSON.stringify(Object.fromEntries(Object.keys(ours[0]?.steps ?? {}).map((k) => [k, median(ours.map((r) => r.steps[k] ?? 0))])))}`,
  ].join('\n'));
} catch (error) {
  log(`FAILED: ${(error as Error).stack}`);
  results.error = String((error as Error).message);
  process.exitCode = 1;
} finally {
  const outDir = path.join(PROJECT, '.bench-cache', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `openclaw-rollback-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`results: ${file}`);
  await manager.stop();
  if (!opts.keep) {
    await execa('chattr', ['-R', '-f', '-i', work], { reject: false });
    rmSync(work, { recursive: true, force: true });
  } else console.log(`kept ${work}`);
}
