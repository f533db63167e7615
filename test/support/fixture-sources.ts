// Source trees of the fixture packages, written to disk so `npm pack` can turn them into real tarballs.
import { createHash } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Relative path → file content. */
type Files = Record<string, string>;

async function writeFiles(dir: string, files: Files): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, rel)), { recursive: true });
    await writeFile(join(dir, rel), content);
  }
}

function packageJson(manifest: Record<string, unknown>): string {
  return `${JSON.stringify({ license: 'MIT', ...manifest }, null, 2)}\n`;
}

export interface DepSpec {
  version: string;
  /** 1.0.0 has one, to prove lifecycle scripts of dependencies ran. */
  postinstall: boolean;
}

/** `rs-fixture-dep`: `greet(name)` for both `import` and `require`; greetings carry the version. */
export async function writeDep(dir: string, { version, postinstall }: DepSpec): Promise<void> {
  const greet = `(name) => \`hello, \${name} (rs-fixture-dep@${version})\``;
  await writeFiles(dir, {
    'package.json': packageJson({
      name: 'rs-fixture-dep',
      version,
      description: 'release-switcher test fixture: a dependency',
      main: 'index.cjs',
      exports: { import: './index.mjs', require: './index.cjs' },
      ...(postinstall && { scripts: { postinstall: 'node postinstall.cjs' } }),
    }),
    'index.cjs': `exports.greet = ${greet};\n`,
    'index.mjs': `export const greet = ${greet};\n`,
    ...(postinstall && {
      // npm runs lifecycle scripts with the package directory as cwd.
      'postinstall.cjs': `require('node:fs').writeFileSync('built.txt', process.execPath + '\\n');\n`,
    }),
  });
}

export interface GatewaySpec {
  name: string;
  version: string;
  /** Range on rs-fixture-dep. */
  depRange: string;
  /** `engines.node`. */
  engines: string;
  /** devDependencies; npm install -g never resolves them, so one that does not exist must not matter. */
  devDependencies?: Record<string, string>;
  /** How the server misbehaves, for the supervisor matrix. @default 'good' */
  behaviour?: Behaviour;
  /**
   * The state schema it uses, as openclaw's: declared in package.json (`rsFixture.schemaVersions`); on
   * start it migrates `$STATE_DIR/state.db` up to it (backup first) and refuses (exit 78) a newer one.
   */
  schema?: number;
}

/**
 * The failure matrix of the supervisor tests: each fixture release fails verification its own way.
 * - crash-on-start: exits 1 before listening. - crash-after-3s: healthy, then exits 1 after 3 s.
 * - wrong-version: healthy but reports another version. - never-healthy: /health answers 503.
 * - ignore-sigterm: ignores SIGTERM (the stop times out) and is never healthy. - exit-78: exits 78 at once.
 * - refuse-start: ships a `refuse-start` file; the test unit's ExecStartPre refuses to start such a release.
 */
export type Behaviour =
  | 'good'
  | 'crash-on-start'
  | 'crash-after-3s'
  | 'wrong-version'
  | 'never-healthy'
  | 'ignore-sigterm'
  | 'exit-78'
  | 'refuse-start';

/**
 * A small HTTP gateway shaped like the real one: a lazily imported, content-hashed chunk (so an in-place upgrade
 * breaks a running old process), and lifecycle scripts that must have run before the server agrees to start.
 * Returns the chunk's path inside the package, e.g. `dist/chunk-1a2b3c4d.js`.
 */
export async function writeGateway(dir: string, spec: GatewaySpec): Promise<string> {
  const chunk = chunkSource(spec);
  const chunkPath = `dist/chunk-${createHash('sha256').update(chunk).digest('hex').slice(0, 8)}.js`;
  await writeFiles(dir, {
    'package.json': packageJson({
      name: spec.name,
      version: spec.version,
      description: 'release-switcher test fixture: a tiny HTTP gateway',
      type: 'module',
      main: 'server.js',
      engines: { node: spec.engines },
      scripts: { preinstall: 'node scripts/preinstall.js', postinstall: 'node scripts/postinstall.js' },
      dependencies: { 'rs-fixture-dep': spec.depRange },
      ...(spec.devDependencies && { devDependencies: spec.devDependencies }),
      ...(spec.schema !== undefined && { rsFixture: { schemaVersions: spec.schema } }),
    }),
    // Shipped in the tarball; only postinstall removes it.
    '.lifecycle-pending': 'postinstall has not run yet\n',
    'server.js': serverSource(spec, chunkPath),
    [chunkPath]: chunk,
    'scripts/preinstall.js': PREINSTALL,
    'scripts/postinstall.js': POSTINSTALL,
    ...(spec.behaviour === 'refuse-start' && { 'refuse-start': 'the test unit refuses to start this release\n' }),
  });
  await chmod(join(dir, 'server.js'), 0o755);
  return chunkPath;
}

function chunkSource({ name, version }: GatewaySpec): string {
  return `import { greet } from 'rs-fixture-dep';
export function render() {
  return greet('${name}@${version}');
}
`;
}

const PREINSTALL = `const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  console.error(\`preinstall: Node >= 20 required, this is \${process.version} at \${process.execPath}\`);
  process.exit(1);
}
`;

const POSTINSTALL = `import { rmSync, writeFileSync } from 'node:fs';
rmSync('.lifecycle-pending', { force: true });
writeFileSync('postinstall-ran.txt', process.execPath + '\\n');
`;

function serverSource({ name, version, behaviour = 'good', schema }: GatewaySpec, chunkPath: string): string {
  return `#!/usr/bin/env node
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const NAME = '${name}';
const VERSION = '${version}';
const BEHAVIOUR = '${behaviour}';
const SCHEMA = ${schema ?? 'null'};
// Hard-coded at build time, as a bundler would.
const CHUNK = './${chunkPath}';

// Checked first, so even \`--version\` fails on a release whose postinstall never ran.
if (existsSync(new URL('./.lifecycle-pending', import.meta.url))) {
  console.error(\`\${NAME}@\${VERSION}: .lifecycle-pending exists, install scripts have not run; refusing to start\`);
  process.exit(1);
}

const args = process.argv.slice(2);
if (args.includes('--version')) {
  console.log(VERSION);
  process.exit(0);
}
if (SCHEMA !== null && process.env.STATE_DIR) migrateState(process.env.STATE_DIR);

// What openclaw does with its SQLite state on start: a WAL is replayed into its database, so a WAL
// written by a newer schema makes the database that schema; newer than ours: exit 78 (do not restart
// me); older: back it up, then migrate it. Plain JSON stands in for SQLite.
function migrateState(dir) {
  const db = join(dir, 'state.db');
  const read = (file) => (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null);
  const state = read(db) ?? { schema: SCHEMA, migrations: [], starts: [] };
  const seen = Math.max(state.schema, read(db + '-wal')?.schema ?? 0);
  if (seen > SCHEMA) {
    console.error(\`\${NAME}@\${VERSION}: database schema \${seen} is newer than this build supports (\${SCHEMA}); refusing to start (exit 78)\`);
    process.exit(78);
  }
  if (state.schema < SCHEMA) {
    copyFileSync(db, \`\${db}.pre-startup-migration-\${Date.now()}.bak\`);
    state.migrations.push(\`\${state.schema}->\${SCHEMA}\`);
    state.schema = SCHEMA;
  }
  state.starts.push(VERSION);
  mkdirSync(dir, { recursive: true });
  writeFileSync(db, JSON.stringify(state) + '\\n');
  writeFileSync(db + '-wal', JSON.stringify({ schema: SCHEMA, by: VERSION }) + '\\n');
}

if (BEHAVIOUR === 'crash-on-start') {
  console.error(\`\${NAME}@\${VERSION}: crashing on start (fixture behaviour)\`);
  process.exit(1);
}
if (BEHAVIOUR === 'exit-78') {
  console.error(\`\${NAME}@\${VERSION}: state from a newer version; do not restart me (exit 78)\`);
  process.exit(78);
}
if (BEHAVIOUR === 'crash-after-3s') setTimeout(() => process.exit(1), 3000);
const REPORTED = BEHAVIOUR === 'wrong-version' ? '0.0.0-wrong' : VERSION;
const HEALTHY = BEHAVIOUR !== 'never-healthy' && BEHAVIOUR !== 'ignore-sigterm';
const portFlag = args.indexOf('--port');
const port = Number(portFlag >= 0 ? args[portFlag + 1] : (process.env.PORT ?? 0));

// What a gateway's update.run handler does: start \`release-switcher update\` (RS_CLI: JSON [node, main.js])
// from inside the service's own process tree, and answer with what it said.
function runUpdate(req, res) {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    const { spec } = JSON.parse(body || '{}');
    const cli = JSON.parse(process.env.RS_CLI ?? 'null');
    if (!cli) return send(res, 500, { error: 'RS_CLI is not set' });
    const args = [...cli.slice(1), '--root', process.env.RS_ROOT, '--json', 'update', ...(spec ? [spec] : [])];
    execFile(cli[0], args, { env: process.env, timeout: 120_000 }, (error, stdout, stderr) => {
      send(res, 200, { exitCode: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const server = createServer(async (req, res) => {
  try {
    if (req.method === 'GET' && req.url === '/health') {
      return HEALTHY ? send(res, 200, { status: 'ok', version: REPORTED }) : send(res, 503, { status: 'starting', version: REPORTED });
    }
    if (req.method === 'POST' && req.url === '/run-update') return runUpdate(req, res);
    if (req.method === 'GET' && req.url === '/chunk') {
      const { render } = await import(CHUNK);
      return send(res, 200, { chunk: CHUNK.slice(2), output: render() });
    }
    send(res, 404, { error: 'not found' });
  } catch (err) {
    send(res, 500, { error: String(err?.message ?? err) });
  }
});

server.listen(port, '127.0.0.1', () => {
  // Tests start with PORT=0 and read the real port from this line.
  console.log(\`\${NAME}@\${VERSION} listening on http://127.0.0.1:\${server.address().port}\`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    if (BEHAVIOUR === 'ignore-sigterm') return console.error(\`\${NAME}@\${VERSION}: ignoring \${signal}\`);
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
`;
}
