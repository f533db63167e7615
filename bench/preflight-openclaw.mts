// Real openclaw under a private systemd --user: what a broken candidate costs with the preflight rehearsal (goal: 0 s
// of downtime), and what the rehearsal adds to a good update.
//
//   npm run build
//   /path/to/node24 bench/preflight-openclaw.mts [--adopt DIR] [--good SPEC] [--crash-tgz FILE] [--skip-good] [--keep]
//
// Needs root on Linux (the private user manager of test/support/systemd.ts, imported as TypeScript: Node >= 23.6
// strips the types) and Node 24 (openclaw 2026.9.x refuses older; it runs the gateway and the CLI here). npm's cache is
// $npm_config_cache (default /work/cache/npm-shared); the registry is npm's own config.
//
// 1. The first release: `init --preset openclaw --adopt DIR` (an `npm install -g` folder of 2026.9.5), else
//    `install openclaw@2026.9.5`. A unit runs `<node> <root>/current/dist/index.js gateway --port P` (P != 18789) on
//    a live state dir with a config of its own; it is started and waited for.
// 2. The broken candidate: 2026.9.6's tarball repacked as 2026.9.6-crash.0 whose dist/index.js exits 1 two seconds
//    after `gateway` starts (or --crash-tgz, made so before). `update <that .tgz>` (install + preflight) while /startupz is polled every 100 ms: it must
//    be refused with PREFLIGHT_FAILED, MainPID and NRestarts unchanged; the longest gap between two answers of the live
//    gateway is the downtime it caused.
// 3. A good update: `install --good` (default openclaw@2026.9.6), then `switch` with the rehearsal; the `preflight`
//    step's ms is what the rehearsal adds; the gap around the restart is shown for scale.
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import './lib/host-roots.mjs'; // its init as root adds to a list of the run's own, not the host's
import { startUserManager } from '../test/support/systemd.ts';

const { values: opts } = parseArgs({
  options: {
    adopt: { type: 'string' },
    good: { type: 'string', default: 'openclaw@2026.9.6' },
    'crash-tgz': { type: 'string' },
    'skip-good': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const PROJECT = path.resolve(import.meta.dirname, '..');
const NODE = process.execPath;
if (Number(process.versions.node.split('.')[0]) < 24)
  throw new Error(`run this with Node 24 (openclaw 2026.9.x needs it); this is ${process.version}`);

const work = mkdtempSync(path.join(tmpdir(), 'rs-bench-pf-oc-'));
// The CLI this run measures, copied: a build during the run (minutes) must not change it under our feet.
const built = path.join(work, 'rs');
cpSync(path.join(PROJECT, 'dist'), path.join(built, 'dist'), { recursive: true });
cpSync(path.join(PROJECT, 'package.json'), path.join(built, 'package.json'));
symlinkSync(path.join(PROJECT, 'node_modules'), path.join(built, 'node_modules'));
const CLI = path.join(built, 'dist/cli/main.js');
const { systemdUnit } = await import(path.join(built, 'dist/unit-files/unit.js'));
const { validateConfig } = await import(path.join(built, 'dist/store/config.js'));

const root = path.join(work, 'root');
const live = path.join(work, 'live-openclaw');
const port = 28000 + Math.floor(Math.random() * 1000);
const cache = process.env.npm_config_cache ?? '/work/cache/npm-shared';
const t0 = performance.now();
const log = (text: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${text}`);

const manager = await startUserManager({ name: 'bench-pf-oc' });
const env: Record<string, string> = {
  ...(manager.env as Record<string, string>),
  PATH: `${path.dirname(NODE)}:${process.env.PATH}`,
  OPENCLAW_STATE_DIR: live,
  npm_config_cache: cache,
  npm_config_logs_dir: path.join(work, 'npm-logs'),
  npm_config_update_notifier: 'false',
  // A TLS-inspecting proxy's CA, where the machine has one: npm and pacote must reach the registry as the user's npm does.
  ...Object.fromEntries(
    [
      'NODE_EXTRA_CA_CERTS',
      'SSL_CERT_FILE',
      'SSL_CERT_DIR',
      'HTTPS_PROXY',
      'https_proxy',
      'HTTP_PROXY',
      'http_proxy',
      'NO_PROXY',
      'no_proxy',
    ].flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])),
  ),
};
const rs = async (args: string[]) => {
  const started = performance.now();
  const r = await execa(NODE, [CLI, '--root', root, '--json', ...args], {
    env,
    extendEnv: false,
    reject: false,
    timeout: 900_000,
  });
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
  if (r.exitCode !== 0)
    throw new Error(
      `release-switcher ${args.join(' ')}: exit ${r.exitCode}\n${JSON.stringify(r.json?.error ?? r.json)}\n${r.stderr.slice(-3000)}`,
    );
  return r;
};

const UNIT = 'openclaw-gateway.service';
const show = async () => {
  const r = await manager.systemctl([
    'show',
    UNIT,
    '--property=MainPID',
    '--property=NRestarts',
    '--property=ActiveState',
  ]);
  return Object.fromEntries(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('=') as [string, string]),
  );
};

interface Poll {
  answers: Array<{ at: number; version: string }>;
  failures: number;
  stop: () => Promise<void>;
}
/** GET /startupz every 100 ms; each 200 answer with a version is kept with its time. */
function poll(): Poll {
  const p: Poll = { answers: [], failures: 0, stop: async () => {} };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const sent = performance.now();
      try {
        const res = await fetch(`http://127.0.0.1:${port}/startupz`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json().catch(() => ({}))) as { version?: string };
        if (res.status === 200 && body.version) p.answers.push({ at: performance.now(), version: body.version });
        else p.failures++;
      } catch {
        p.failures++;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (performance.now() - sent))));
    }
  })();
  p.stop = async () => {
    stopped = true;
    await loop;
  };
  return p;
}
const longestGap = (answers: Poll['answers'], from: number, to: number) => {
  const times = [from, ...answers.map((a) => a.at).filter((t) => t >= from && t <= to), to];
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  return gap;
};

const results: Record<string, unknown> = { node: process.version, port, date: new Date().toISOString() };
try {
  // --- 1. the live gateway ---
  mkdirSync(live, { recursive: true });
  writeFileSync(
    path.join(live, 'openclaw.json'),
    JSON.stringify({
      gateway: {
        mode: 'local',
        bind: 'loopback',
        port,
        auth: { mode: 'token', token: randomBytes(24).toString('hex') },
        controlUi: { enabled: false },
        tailscale: { mode: 'off' },
      },
      discovery: { mdns: { mode: 'off' } },
    }),
  );
  const health = `http://127.0.0.1:${port}/startupz`;
  await must([
    'init',
    '--preset',
    'openclaw',
    '--node',
    NODE,
    '--unit',
    UNIT,
    '--health-url',
    health,
    '--verify-timeout',
    '240',
    '--stable-for',
    '5',
    ...(opts.adopt ? ['--adopt', opts.adopt] : []),
  ]);
  if (!opts.adopt)
    log(`install openclaw@2026.9.5: ${((await must(['install', 'openclaw@2026.9.5'])).ms / 1000).toFixed(1)} s`);
  else log(`adopted ${opts.adopt}`);
  const config = validateConfig(JSON.parse(readFileSync(path.join(root, 'config.json'), 'utf8')), 'config.json');
  const bootCheck = [NODE, CLI, '--root', root, 'boot-check'];
  const gwLog = path.join(work, 'gateway.log');
  let unit: string = systemdUnit(config, root, {
    entry: 'dist/index.js',
    args: ['gateway', '--port', String(port)],
    scope: 'user',
    bootCheck,
  });
  unit = unit.replace(
    '[Service]\n',
    [
      '[Service]',
      `Environment=OPENCLAW_STATE_DIR=${live}`,
      `Environment=HOME=${path.join(work, 'home')}`,
      'Environment=OPENCLAW_NO_AUTO_UPDATE=1',
      'Environment=OPENCLAW_SKIP_CHANNELS=1',
      'Environment=OPENCLAW_SKIP_PROVIDERS=1',
      `StandardOutput=append:${gwLog}`,
      `StandardError=append:${gwLog}`,
      '',
    ].join('\n'),
  );
  mkdirSync(path.join(work, 'home'));
  await manager.writeUnit(UNIT, unit);
  if (!opts.adopt) await must(['switch', '2026.9.5', '--no-preflight']);
  else if ((await manager.systemctl(['start', UNIT])).exitCode !== 0) throw new Error('the unit did not start');
  const bootStart = performance.now();
  await manager.waitFor(
    async () => {
      const r = await fetch(health, { signal: AbortSignal.timeout(1000) }).catch(() => null);
      return r?.status === 200;
    },
    { timeoutMs: 300_000, intervalMs: 250, what: 'the live 2026.9.5 gateway' },
  );
  log(`live gateway 2026.9.5 answers /startupz (${((performance.now() - bootStart) / 1000).toFixed(1)} s after start)`);

  // --- 2. the broken candidate ---
  let crashTgz = opts['crash-tgz'];
  if (!crashTgz) {
    const pack = path.join(work, 'pack');
    mkdirSync(pack);
    const packed = JSON.parse(
      (
        await execa('npm', ['pack', 'openclaw@2026.9.6', '--json', '--pack-destination', pack], {
          env,
          extendEnv: false,
        })
      ).stdout,
    )[0].filename;
    await execa('tar', ['-xzf', path.join(pack, packed), '-C', pack]);
    const pj = JSON.parse(readFileSync(path.join(pack, 'package/package.json'), 'utf8'));
    pj.version = '2026.9.6-crash.0';
    writeFileSync(path.join(pack, 'package/package.json'), `${JSON.stringify(pj, null, 2)}\n`);
    const entry = path.join(pack, 'package/dist/index.js');
    // After the shebang: a statement before it is a syntax error (the smoke check refuses such a release).
    const [shebang, ...rest] = readFileSync(entry, 'utf8').split('\n');
    const crash =
      "if (process.argv.includes('gateway')) setTimeout(() => { console.error('repacked to crash: exiting 2 s after start'); process.exit(1); }, 2000);";
    writeFileSync(entry, [shebang, crash, ...rest].join('\n'));
    crashTgz = path.join(work, 'openclaw-2026.9.6-crash.0.tgz');
    await execa('tar', ['-I', 'gzip -1', '-cf', crashTgz, '-C', pack, 'package']);
    rmSync(path.join(pack, 'package'), { recursive: true });
    log('repacked 2026.9.6 as 2026.9.6-crash.0 (dist/index.js exits 1 two seconds after `gateway` starts)');
  } else log(`broken candidate: ${crashTgz}`);

  const before = await show();
  const p1 = poll();
  const u1 = performance.now();
  const bad = await rs(['update', crashTgz]);
  const u1end = performance.now();
  await new Promise((r) => setTimeout(r, 1000));
  await p1.stop();
  const after = await show();
  const step =
    bad.json?.result?.steps?.find((s: { name: string }) => s.name === 'preflight') ??
    bad.json?.error?.result?.steps?.find((s: { name: string }) => s.name === 'preflight');
  const broken = {
    exitCode: bad.exitCode,
    code: bad.json?.error?.code,
    wallMs: Math.round(bad.ms),
    preflightMs: step?.ms ?? null,
    preflightDetail: step?.detail ?? null,
    mainPid: [before.MainPID, after.MainPID],
    nRestarts: [before.NRestarts, after.NRestarts],
    answers: p1.answers.length,
    failures: p1.failures,
    longestGapMs: Math.round(longestGap(p1.answers, u1, u1end)),
    versionsSeen: [...new Set(p1.answers.map((a) => a.version))],
  };
  results.broken = broken;
  log(
    `broken candidate: exit ${broken.exitCode} ${broken.code}; update wall ${(broken.wallMs / 1000).toFixed(1)} s (preflight step ${broken.preflightMs} ms: ${broken.preflightDetail})`,
  );
  log(
    `  MainPID ${broken.mainPid.join(' -> ')}, NRestarts ${broken.nRestarts.join(' -> ')}; /startupz polled every 100 ms: ${broken.answers} answers, ${broken.failures} failures, versions ${broken.versionsSeen.join(', ')}, longest gap ${broken.longestGapMs} ms`,
  );
  if (!bad.json?.error) log(`  unexpected result: ${JSON.stringify(bad.json).slice(0, 2000)}`);

  // --- 3. a good update ---
  if (opts['skip-good']) throw Object.assign(new Error('--skip-good'), { skip: true });
  const installed = await must(['install', opts.good!]);
  const version = installed.json.result.version;
  log(
    `install ${opts.good}: ${(installed.ms / 1000).toFixed(1)} s (reused ${JSON.stringify(installed.json.result.reused)})`,
  );
  const p2 = poll();
  const u2 = performance.now();
  const good = await rs(['switch', version]);
  const u2end = performance.now();
  await p2.stop();
  const steps = (good.json?.result ?? good.json?.error?.result)?.steps ?? [];
  const stepMs = Object.fromEntries(steps.map((s: { name: string; ms: number }) => [s.name, s.ms]));
  const verify = steps.find((s: { name: string }) => s.name === 'verify');
  const firstNew = p2.answers.find((a) => a.version === version)?.at;
  const lastOld = [...p2.answers].reverse().find((a) => a.version !== version)?.at;
  const goodResult = {
    status: good.json?.result?.status ?? good.json?.error?.code,
    wallMs: Math.round(good.ms),
    steps: stepMs,
    preflightDetail: steps.find((s: { name: string }) => s.name === 'preflight')?.detail,
    verifyEvidence: verify?.evidence ?? null,
    restartGapMs: firstNew && lastOld ? Math.round(firstNew - lastOld) : null,
    longestGapMs: Math.round(longestGap(p2.answers, u2, u2end)),
  };
  results.good = goodResult;
  log(
    `good candidate ${version}: ${JSON.stringify(goodResult.status)}; switch wall ${(good.ms / 1000).toFixed(1)} s; steps ${JSON.stringify(stepMs)}`,
  );
  log(
    `  the rehearsal added ${stepMs.preflight ?? '?'} ms (${goodResult.preflightDetail}); old->new gap at the restart ${goodResult.restartGapMs} ms, longest gap ${goodResult.longestGapMs} ms`,
  );
  if (good.exitCode !== 0) log(`  ${JSON.stringify(good.json?.error ?? good.json).slice(0, 3000)}`);
} catch (error) {
  if ((error as { skip?: boolean }).skip) log('skipped the good update (--skip-good)');
  else {
    log(`FAILED: ${(error as Error).stack}`);
    results.error = String((error as Error).message);
    process.exitCode = 1;
  }
} finally {
  const outDir = path.join(PROJECT, '.bench-cache', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `preflight-openclaw-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`results: ${file}`);
  await manager.stop();
  if (!opts.keep) {
    await execa('chattr', ['-R', '-f', '-i', work], { reject: false });
    rmSync(work, { recursive: true, force: true });
  } else console.log(`kept ${work}`);
}
