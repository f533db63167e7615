/**
 * SQLite databases copied consistently: each one a single consolidated file made by `VACUUM INTO` (one
 * read transaction, so a database written while it is copied still yields one committed state; never
 * its pages plus a `-wal` of another moment), then checked with `PRAGMA quick_check` before the copy
 * counts. The original's journal mode (WAL) is set on the copy again, so a restore puts back what the
 * service had.
 *
 * Why a Node subprocess: release-switcher itself may run on Node 20, which has no `node:sqlite`; the
 * service's own Node often has it (openclaw needs Node 24, where it is built in without a flag). So the
 * copy runs as a tiny script on the first of the configured service Node and the running Node that has
 * `node:sqlite`. No native module to build, no `sqlite3` CLI to install on the host. With neither, the
 * caller falls back to copying a database with its companions, which is consistent only while the
 * service is stopped (the boot-check's snapshot is taken then).
 */
import { ReleaseSwitcherError } from '../model/errors.js';
import { runCaptured } from '../platform/subprocess.js';

/** Generous: VACUUM INTO reads and writes the whole database. */
const COPY_TIMEOUT_MS = 600_000;
const PROBE_TIMEOUT_MS = 20_000;

const SCRIPT = [
  "const { DatabaseSync } = require('node:sqlite');",
  'const copy = ({ from, to }) => {',
  '  const src = new DatabaseSync(from, { readOnly: true });',
  '  let mode;',
  "  try { src.exec('PRAGMA busy_timeout = 10000'); mode = src.prepare('PRAGMA journal_mode').get().journal_mode;",
  "    src.prepare('VACUUM INTO ?').run(to); } finally { src.close(); }",
  '  const dst = new DatabaseSync(to);',
  '  try {',
  "    const rows = dst.prepare('PRAGMA quick_check').all().map((r) => Object.values(r)[0]);",
  "    if (rows.join() !== 'ok') throw new Error(`quick_check: ${rows.slice(0, 5).join('; ')}`);",
  "    if (mode === 'wal') dst.exec('PRAGMA journal_mode = WAL');",
  '  } finally { dst.close(); }',
  '};',
  'for (const pair of JSON.parse(process.argv[1])) {',
  '  try { copy(pair); } catch (e) { console.error(`copy failed: ${pair.from}: ${e.message}`); process.exit(1); }',
  '}',
].join('\n');

const probed = new Map<string, Promise<boolean>>();

/**
 * A worker's folders (`/proc/self/fd/N/…`, platform/as-account.ts) named by `pairs`: the same descriptors passed on at
 * the same numbers, so the paths mean the same in the copier. Only private copies for a rehearsal pass them on: a
 * checkpoint's are never named here (snapshot.ts copies its databases with their companions for another account).
 */
export function handedThrough(pairs: ReadonlyArray<{ from: string; to: string }>): number[] {
  let top = 2;
  for (const p of pairs.flatMap((pair) => [pair.from, pair.to]))
    top = Math.max(top, Number(/^\/proc\/self\/fd\/(\d+)\//.exec(p)?.[1] ?? 2));
  return Array.from({ length: top - 2 }, (_, i) => 3 + i);
}

/** Whether `node` can `require('node:sqlite')` without a flag. */
export function hasNodeSqlite(node: string): Promise<boolean> {
  // Our own Node is asked in-process: no subprocess in the stop window when the boot-check runs on the service's Node.
  if (node === process.execPath) return Promise.resolve(ownNodeHasSqlite());
  let known = probed.get(node);
  if (!known) {
    known = runCaptured(node, ['--no-warnings', '-e', "require('node:sqlite')"], { timeoutMs: PROBE_TIMEOUT_MS }).then(
      (r) => !r.failed,
      () => false,
    );
    probed.set(node, known);
  }
  return known;
}

function ownNodeHasSqlite(): boolean {
  try {
    return Boolean(process.getBuiltinModule?.('node:sqlite'));
  } catch {
    return false;
  }
}

/** The first of `candidates` (the service's Node, then ours) that has `node:sqlite`, if any. */
export async function sqliteNode(candidates: ReadonlyArray<string | null | undefined>): Promise<string | undefined> {
  for (const node of new Set(candidates.filter((c): c is string => Boolean(c))))
    if (await hasNodeSqlite(node)) return node;
  return undefined;
}

/**
 * Copy each database `from` to `to` (which must not exist) consistently and check the copy (the caller
 * copies modes and times). Throws STATE_COPY_FAILED naming the database when one cannot be copied.
 */
export async function copyDatabases(
  pairs: ReadonlyArray<{ from: string; to: string }>,
  options: { node: string; signal?: AbortSignal },
): Promise<void> {
  if (pairs.length === 0) return;
  const result = await runCaptured(options.node, ['--no-warnings', '-e', SCRIPT, JSON.stringify(pairs)], {
    timeoutMs: COPY_TIMEOUT_MS,
    signal: options.signal,
    fds: handedThrough(pairs),
  });
  if (result.failed) {
    const why =
      result.output
        .split('\n')
        .find((l) => l.startsWith('copy failed: '))
        ?.slice(13) ?? result.output.slice(-400);
    throw new ReleaseSwitcherError('STATE_COPY_FAILED', `A consistent copy of the service's databases failed: ${why}`, {
      hint: `Check the databases (${pairs.map((p) => p.from).join(', ')}) with sqlite3 PRAGMA integrity_check, and the free space of the root; nothing was switched.`,
    });
  }
}
