/**
 * A runtime change is a transaction like any other (issue 33): the service moves from one Node to another with the
 * flip, and every way back (the rollback after a failed verification, an undo, recovery) moves it back with the
 * release. What the service runs on is one thing, the unit's Node, and config.json's `node` says it (unit --install
 * writes it there); a transaction that moves it rewrites the Node words of the unit file we wrote and config.json's
 * `node` together, before the links flip, and the journal's `runtime` says from what to what, so either half done is
 * finished or undone by the same idempotent step.
 *
 * Where a move comes from: `--node PATH` on update/switch/rollback (the operator's), the release's own record (the Node
 * it last verified on: a rollback to a release left on Node 24 goes back to 24), or its `engines` (staging picked a
 * Node that satisfies them: stage/install.ts).
 */
import fs, { realpath } from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';
import type { NodeRef, State, Transaction } from '../model/state.js';
import { writeConfig } from '../store/config.js';
import type { JournalSession } from '../store/session.js';
import { setReleaseNode } from './record.js';

/** The Node the service runs on now: the configured one (what unit --install wrote into the unit), else ours. */
export function servingNode(session: Pick<JournalSession, 'config'>): string {
  return session.config.node ?? process.execPath;
}

/**
 * At the transaction's start, before anything changes: whether the service moves to another Node with it, refused
 * (thrown) when the target's engines exclude that Node or the unit cannot be moved. `requested`: `--node PATH`.
 */
export async function planRuntime(
  session: JournalSession,
  tx: Transaction,
  requested: string | undefined,
): Promise<Transaction['runtime']> {
  const { journal, runtime } = session;
  const target = tx.to!;
  const serving = servingNode(session);
  const wanted = await movesTo(session, journal.state, target, requested);
  if (!wanted) return undefined;
  // lazy: only for a move: a switch on the service's Node starts no process to ask a Node its version
  const { checkEngines, probeNode } = await import('../platform/node.js');
  // lazy: as above (the target's engines)
  const { readPackageJson } = await import('../platform/package-json.js');
  const to = await probeNode(wanted, runtime.env, runtime.signal).catch((error: unknown) => {
    if (requested) throw error;
    return undefined; // the Node a release was left on is gone: it runs on the service's, as before this record existed
  });
  if (!to) return undefined;
  checkEngines(await readPackageJson(session.layout.release(target)), to);
  const from = await probeNode(serving, runtime.env, runtime.signal).catch(() => ({ path: serving, version: 'gone' }));
  await (await unitNode(session)).check(from.path);
  const why = requested
    ? '--node'
    : journal.state.releases[target]?.state === 'installed'
      ? `${target} was staged for it`
      : `${target} last ran on it`;
  // The release being left runs on `from`: recorded, so a switch back to it later moves the service back there.
  const leaving = tx.from ? journal.state.releases[tx.from] : undefined;
  if (leaving && !leaving.node) setReleaseNode(leaving, ref(from));
  return { from: ref(from), to: ref(to), why };
}

/**
 * Point the unit and config.json at `tx.runtime`'s `side` Node (`to` with the flip, `from` on every way back), when
 * the transaction moves the service; idempotent, so recovery repeats it safely. The session's config follows, so what
 * runs after it (finalize, the restart handoff, the rehearsal of the way back) runs on that Node too.
 */
export async function pointRuntime(session: JournalSession, tx: Transaction, side: 'to' | 'from'): Promise<string> {
  const move = tx.runtime;
  if (!move) return '';
  const [was, now] = side === 'to' ? [move.from, move.to] : [move.to, move.from];
  const changed = await (await unitNode(session)).point(was.path, now.path);
  // config.json follows the unit: moved now, or left on `was` by a run cut between the two (an undo that finds
  // neither moved leaves a config that names no Node as it is).
  if (session.config.node !== now.path && (changed || session.config.node === was.path)) {
    session.config.node = now.path;
    await writeConfig(session.layout.root, session.config);
  }
  return `; Node ${was.version} -> ${now.version} (${now.path})`;
}

/** A release that verified on a transaction's Node runs on it: recorded, so a later switch to it moves there again. */
export function recordRanOn(session: JournalSession, tx: Transaction, version: string, side: 'to' | 'from'): void {
  const record = session.journal.state.releases[version];
  if (tx.runtime && record) setReleaseNode(record, tx.runtime[side]);
}

/** The Node the release on `side` of `tx` runs on: the move's, else the service's. */
export function nodeFor(session: Pick<JournalSession, 'config'>, tx: Transaction, side: 'to' | 'from'): string {
  return tx.runtime ? tx.runtime[side].path : servingNode(session);
}

/**
 * The Node `target` would run on when that is not the service's (`--node`, else the one it last ran on), or undefined:
 * no move. What `--dry-run` shows and where planRuntime starts.
 */
export async function movesTo(
  session: Pick<JournalSession, 'config'>,
  state: State,
  target: string,
  requested: string | undefined,
): Promise<string | undefined> {
  const wanted = requested ? path.resolve(requested) : state.releases[target]?.node?.path;
  return wanted && !(await sameFile(wanted, servingNode(session))) ? wanted : undefined;
}

/** Whether two paths name the same file (a Node reached through a link is the same Node). */
async function sameFile(a: string, b: string): Promise<boolean> {
  if (path.resolve(a) === path.resolve(b)) return true;
  const [ra, rb] = await Promise.all([realpath(a).catch(() => a), realpath(b).catch(() => b)]);
  return ra === rb;
}

const ref = (node: { path: string; version: string }): NodeRef => ({ path: node.path, version: node.version });

interface UnitNode {
  /** Refuses (before anything changes) when the unit cannot be moved off `from`. */
  check(from: string): Promise<void>;
  /** The unit runs `now` where it ran `was` (or already runs `now`); whether the file changed. */
  point(was: string, now: string): Promise<boolean>;
}

/** The supervisor's side of a move: the systemd unit file we wrote; nothing without a supervisor; refused for others. */
async function unitNode(session: JournalSession): Promise<UnitNode> {
  const { config, runtime } = session;
  if (config.supervisor === 'none') return { check: async () => {}, point: async () => true };
  if (config.supervisor !== 'systemd' && config.supervisor !== 'systemd-system') {
    const refuse = async (): Promise<never> => {
      throw new ReleaseSwitcherError(
        'UNSUPPORTED',
        `Moving the service to another Node is done through the unit release-switcher writes (systemd); ${config.supervisor} runs the Node its own configuration names.`,
        {
          hint: `Change the interpreter in ${config.supervisor}'s configuration of ${config.unit}, then release-switcher init --node PATH so staging uses it too.`,
        },
      );
    };
    return { check: refuse, point: refuse };
  }
  // lazy: the unit writer only when the service moves to another Node under systemd
  const { dropInPath, unitPath, writeUnitFile, scopeOf, isOurUnitText, execWord } = await import(
    '../unit-files/unit.js'
  );
  const options = { scope: scopeOf(config), env: runtime.env };
  const ours = async (): Promise<{ file: string; text: string }> => {
    for (const file of [dropInPath(config, options), unitPath(config, options)]) {
      const text = await fs.readFile(file, 'utf8').catch(() => undefined);
      if (text !== undefined && isOurUnitText(text)) return { file, text };
    }
    throw new ReleaseSwitcherError(
      'UNSUPPORTED',
      `The service's Node is set in ${config.unit}'s unit, and release-switcher wrote no unit file for it to change.`,
      { hint: 'Run release-switcher unit --install first (its drop-in names the Node), then move the Node again.' },
    );
  };
  const rewrite = (text: string, was: string, now: string) =>
    text
      .split('\n')
      .map((line) => {
        const match = /^(Exec\w+=[-+!@:]*)(\S+)(.*)$/.exec(line);
        return match && match[2] === execWord(was) ? `${match[1]}${execWord(now)}${match[3]}` : line;
      })
      .join('\n');
  return {
    check: async (from) => {
      const { file, text } = await ours();
      if (rewrite(text, from, '\0') === text) {
        throw new ReleaseSwitcherError(
          'UNSUPPORTED',
          `${file} does not run the service's configured Node (${from}): it was changed by hand since unit --install.`,
          { hint: 'Run release-switcher unit --install to write it again, then move the Node.' },
        );
      }
      await fs.access(path.dirname(file), fs.constants.W_OK).catch((error: unknown) => {
        throw new ReleaseSwitcherError(
          'PERMISSION_DENIED',
          `Moving the service to another Node rewrites ${file}, which this account cannot write.`,
          { hint: 'Run the command as the account that installed the unit (root for a system unit).', cause: error },
        );
      });
    },
    point: async (was, now) => {
      const { file, text } = await ours();
      const moved = rewrite(text, was, now);
      if (moved === text) return false;
      await writeUnitFile(file, moved, options);
      return true;
    },
  };
}
