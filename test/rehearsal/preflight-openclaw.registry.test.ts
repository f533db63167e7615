// `init --preset openclaw` rehearses a candidate the way openclaw's own updater isolates one: a fake openclaw
// (dist/index.js `gateway --port N`, /startupz with its version) reports what it was given. Its arguments, the
// skip switches, a private state dir shaped like the live one, and an isolated config with a fresh random token
// per run must reach it; the live state dir stays byte-identical and no private copy is left.
import { execa } from 'execa';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureServiceNode } from '../../bench/lib/node24.mjs';
import { cli, tempDir } from '../support/cli.ts';
import { describeWhere, onLinux } from '../support/skip.ts';
import { PRESETS } from '../../src/presets/index.ts';
import { snapshotBytes } from './preflight-support.ts';

/**
 * A packed openclaw-shaped package: `--version`, and `gateway --port N` that reports what it saw to `<dir>/report.<pid>`
 * (a path written into it: the caller's environment does not reach a rehearsed candidate).
 */
async function fakeOpenclaw(dir: string, version: string): Promise<string> {
  const src = path.join(dir, `src-${version}`);
  mkdirSync(path.join(src, 'dist'), { recursive: true });
  writeFileSync(
    path.join(src, 'package.json'),
    JSON.stringify({ name: 'openclaw', version, main: 'dist/index.js', type: 'module' }),
  );
  writeFileSync(
    path.join(src, 'dist', 'index.js'),
    `import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
const args = process.argv.slice(2);
if (args[0] === '--version') { console.log(${JSON.stringify(version)}); process.exit(0); }
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(OPENCLAW_|HOME$|TMPDIR$|XDG_)/.test(k)));
const stateDir = process.env.OPENCLAW_STATE_DIR;
const listing = fs.readdirSync(stateDir, { recursive: true }).sort();
const db = path.join(stateDir, 'state', 'openclaw.sqlite');
const seenDb = fs.existsSync(db) ? fs.readFileSync(db, 'utf8') : null;
// What 2026.9.6's first start does: migrate the state database in place.
fs.mkdirSync(path.dirname(db), { recursive: true });
fs.appendFileSync(db, 'migrated by ${version}\\n');
fs.writeFileSync(path.join(stateDir, 'agents', 'main', 'agent', 'openclaw-agent.sqlite'), 'rewritten');
const config = JSON.parse(fs.readFileSync(process.env.OPENCLAW_CONFIG_PATH, 'utf8'));
fs.writeFileSync(${JSON.stringify(path.join(dir, 'report'))} + '.' + process.pid, JSON.stringify({ args, cwd: process.cwd(), env, listing, seenDb, config }));
const port = Number(args[args.indexOf('--port') + 1]);
http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(req.url === '/startupz' ? { ok: true, status: 'started', version: ${JSON.stringify(version)} } : {}));
}).listen(port, '127.0.0.1');
`,
  );
  const { stdout } = await execa('npm', ['pack', src, '--pack-destination', dir, '--json'], {
    env: { npm_config_cache: path.join(dir, 'npm-cache'), npm_config_logs_dir: path.join(dir, 'npm-logs') },
  });
  return path.join(dir, (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename);
}

describeWhere(onLinux, 'the openclaw preset rehearsal', () => {
  it('gives the candidate its arguments, the skip switches, a private state dir and an isolated config with a random token', async () => {
    const dir = tempDir('rs-pf-oc-');
    const root = path.join(dir, 'root');
    const live = path.join(dir, 'live-openclaw');
    mkdirSync(path.join(live, 'state'), { recursive: true });
    mkdirSync(path.join(live, 'agents', 'main', 'agent'), { recursive: true });
    writeFileSync(path.join(live, 'state', 'openclaw.sqlite'), 'live db, schema 17\n');
    writeFileSync(path.join(live, 'state', 'openclaw.sqlite-wal'), 'live wal\n');
    writeFileSync(path.join(live, 'agents', 'main', 'agent', 'openclaw-agent.sqlite'), 'live agent db\n');
    writeFileSync(
      path.join(live, 'openclaw.json'),
      JSON.stringify({ gateway: { port: 18789, auth: { mode: 'token', token: 'the-live-token' } } }),
    );
    const before = await snapshotBytes(live);
    // The switcher's environment as run from inside the live gateway: its state dir, port and token.
    const env = {
      OPENCLAW_STATE_DIR: live,
      OPENCLAW_GATEWAY_PORT: '18789',
      OPENCLAW_GATEWAY_TOKEN: 'the-live-token',
    };
    const rs = (args: string[]) => cli(['--root', root, '--json', ...args], { env });

    // supervisor none: the rehearsal runs in its own process group (the systemd unit is tested elsewhere). The preset's
    // prepare step (clearing the copy's SQLite leases) needs node:sqlite and real databases: tested below; here a
    // stand-in proves the hook runs on the copy, with the rehearsal's environment, before the candidate starts.
    const prepare = path.join(dir, 'prepare.cjs');
    writeFileSync(
      prepare,
      "require('node:fs').writeFileSync(require('node:path').join(process.argv[2], 'prepared'), process.env.OPENCLAW_STATE_DIR);\n",
    );
    expect(
      (
        await rs([
          'init',
          '--preset',
          'openclaw',
          '--node',
          process.execPath,
          '--supervisor',
          'none',
          '--preflight-for',
          '0.5',
          '--preflight-prepare',
          `${prepare} {state}`,
        ])
      ).exitCode,
    ).toBe(0);
    for (const v of ['2026.9.5', '2026.9.6']) {
      const r = await rs(['install', await fakeOpenclaw(dir, v)]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    }
    const first = await rs(['switch', '2026.9.5']);
    expect(first.json?.result?.status, first.stdout + first.stderr).toBe('switched');
    const second = await rs(['switch', '2026.9.6']);
    expect(second.json?.result?.status, second.stdout + second.stderr).toBe('switched');

    const reports = readdirSync(dir)
      .filter((f) => f.startsWith('report.'))
      .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
    expect(reports).toHaveLength(2);
    const seen = reports.find((r) => r.cwd.endsWith('2026.9.6'))!;
    const port = Number(seen.args[2]);
    expect(seen.args).toEqual(['gateway', '--port', String(port)]);
    expect(port).not.toBe(18789);
    expect(seen.cwd).toBe(path.join(root, 'releases', '2026.9.6'));
    const state: string = seen.env.OPENCLAW_STATE_DIR;
    expect(state.startsWith(path.join(root, 'preflight') + path.sep)).toBe(true);
    expect(seen.env).toMatchObject({
      OPENCLAW_SKIP_CHANNELS: '1',
      OPENCLAW_SKIP_PROVIDERS: '1',
      OPENCLAW_SKIP_CRON: '1',
      OPENCLAW_SKIP_GMAIL_WATCHER: '1',
      OPENCLAW_SKIP_CANVAS_HOST: '1',
      OPENCLAW_SKIP_BROWSER_CONTROL_SERVER: '1',
      OPENCLAW_NO_AUTO_UPDATE: '1',
      HOME: state,
      OPENCLAW_HOME: state,
      TMPDIR: state,
      OPENCLAW_GATEWAY_PORT: String(port),
    });
    // The private copy is shaped like the live state dir, SQLite companions included, and holds the live data.
    expect(seen.listing).toEqual(
      expect.arrayContaining([
        'state/openclaw.sqlite',
        'state/openclaw.sqlite-wal',
        'agents/main/agent/openclaw-agent.sqlite',
        'openclaw.json',
      ]),
    );
    expect(seen.seenDb).toBe('live db, schema 17\n');
    expect(seen.listing).toContain('prepared');
    // The isolated config: loopback, token auth with a random token (also in the environment), the rest off.
    const token: string = seen.config.gateway.auth.token;
    expect(token).toMatch(/^[0-9a-f]{48}$/);
    expect(seen.env.OPENCLAW_GATEWAY_TOKEN).toBe(token);
    expect(seen.env.OPENCLAW_CONFIG_PATH).not.toBe(path.join(live, 'openclaw.json'));
    expect(seen.config).toMatchObject({
      gateway: {
        mode: 'local',
        bind: 'loopback',
        auth: { mode: 'token' },
        controlUi: { enabled: false },
        tailscale: { mode: 'off' },
      },
      cron: { enabled: false },
      hooks: { enabled: false },
      discovery: { mdns: { mode: 'off' } },
      logging: { file: path.join(state, 'preflight.log') },
    });
    // A fresh token every run; never the live one.
    const other = reports.find((r) => r.cwd.endsWith('2026.9.5'))!;
    expect(other.config.gateway.auth.token).not.toBe(token);
    expect(JSON.stringify(reports)).not.toContain('the-live-token');
    // The token is not journaled.
    expect(readFileSync(path.join(root, 'state.json'), 'utf8')).not.toContain(token);

    expect(await snapshotBytes(live)).toEqual(before);
    expect(existsSync(state)).toBe(false);
    expect(readdirSync(path.join(root, 'preflight'))).toEqual([]);
  }, 90_000);
});

/**
 * SQLite through the Node the preset's prepare step runs on (openclaw's: Node 24, whose `node:sqlite` Node 20 lacks), so
 * that these cases run under both of the suite's Nodes: `exec` runs statements, `count` reads `SELECT COUNT(*)` of a table.
 */
function sqliteOn(node: string) {
  const run = async (code: string, args: string[]) =>
    (await execa(node, ['-e', `const { DatabaseSync } = require('node:sqlite'); ${code}`, ...args])).stdout;
  return {
    exec: (file: string, sql: string) =>
      run('const db = new DatabaseSync(process.argv[1]); db.exec(process.argv[2]); db.close();', [file, sql]),
    count: async (file: string, table: string) =>
      JSON.parse(
        await run(
          'const db = new DatabaseSync(process.argv[1]); console.log(JSON.stringify(db.prepare(`SELECT COUNT(*) AS n FROM "${process.argv[2]}"`).get())); db.close();',
          [file, table],
        ),
      ) as { n: number },
  };
}

/** The preset's prepare command for a private copy at `state`. */
const prepareArgs = (state: string) =>
  PRESETS.openclaw!.settings.preflightPrepare!.map((a) => a.replaceAll('{state}', state));

describe("the openclaw preset's prepare step", () => {
  let node24: string;
  let db: ReturnType<typeof sqliteOn>;
  beforeAll(async () => {
    node24 = process.env.BENCH_NODE24 ?? (await ensureServiceNode()).node;
    db = sqliteOn(node24);
  }, 300_000);

  it("clears the leases a running gateway left in the copy's databases (state and agents), and leaves the rest", async () => {
    // What 2026.9.6 refuses to start on: a copy whose state_leases still name the live gateway.
    const state = tempDir('rs-pf-leases-');
    const files = [
      path.join(state, 'state', 'openclaw.sqlite'),
      path.join(state, 'agents', 'main', 'agent', 'openclaw-agent.sqlite'),
    ];
    for (const file of files) {
      mkdirSync(path.dirname(file), { recursive: true });
      await db.exec(
        file,
        "CREATE TABLE state_leases (scope TEXT, lease_key TEXT, owner TEXT); INSERT INTO state_leases VALUES ('gateway-owner', 'global', 'live'); CREATE TABLE kept (x); INSERT INTO kept VALUES (1);",
      );
    }
    const args = prepareArgs(state);
    const r = await execa(node24, args, { cwd: state });
    expect(r.stdout).toContain('1 leases cleared');
    for (const file of files) {
      expect(await db.count(file, 'state_leases')).toEqual({ n: 0 });
      expect(await db.count(file, 'kept')).toEqual({ n: 1 });
    }
    // A fresh state dir (no databases yet) is fine too.
    expect((await execa(node24, prepareArgs(tempDir('rs-pf-empty-')))).exitCode).toBe(0);
  });

  it('clears every lease table, in any SQLite file of the copy, and no table that merely ends in "leases"', async () => {
    // 2026.9.6's migration of a copy of 9.5's live state refused: "Agent main database is still open in process N"
    // (agent_database_leases in state/openclaw.sqlite, the live gateway's PID), after state_leases had been cleared.
    const state = tempDir('rs-pf-leases-all-');
    const main = path.join(state, 'state', 'openclaw.sqlite');
    const elsewhere = path.join(state, 'workspace', 'deep', 'cache.sqlite');
    for (const file of [main, elsewhere]) {
      mkdirSync(path.dirname(file), { recursive: true });
      await db.exec(
        file,
        `CREATE TABLE agent_database_leases (agent_id TEXT, owner_pid INTEGER); INSERT INTO agent_database_leases VALUES ('main', ${process.pid});
        CREATE TABLE workspace_leases (k TEXT); INSERT INTO workspace_leases VALUES ('w'), ('x');
        CREATE TABLE leases (k TEXT); INSERT INTO leases VALUES ('l');
        CREATE TABLE releases (version TEXT); INSERT INTO releases VALUES ('2026.9.5');`,
      );
    }
    const args = prepareArgs(state);
    const r = await execa(node24, args, { cwd: state });
    expect(r.stdout).toContain(`${main}: 4 leases cleared`);
    expect(r.stdout).toContain(`${elsewhere}: 4 leases cleared`);
    for (const file of [main, elsewhere]) {
      for (const table of ['agent_database_leases', 'workspace_leases', 'leases'])
        expect(await db.count(file, table), `${file} ${table}`).toEqual({ n: 0 });
      expect(await db.count(file, 'releases')).toEqual({ n: 1 });
    }
  });
});
