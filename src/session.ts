/**
 * Opening a root for one library call: its layout, config and runtime; and, for mutations, the
 * lock, the journal and the recovery that must run before anything else touches the root.
 */
import fs from 'node:fs/promises';
import { type Config, readConfig } from './config.js';
import { Journal } from './journal.js';
import { type Layout, layoutOf } from './layout.js';
import { withLock } from './lock.js';
import { type RecoverOptions, type RecoveryReport, recoverRoot } from './recover.js';
import { type ResolvedRuntime, type Runtime, resolveRuntime } from './runtime.js';

/** Options every library call takes. */
export interface RootOptions extends Runtime {
  /** The release root. */
  root: string;
}

export interface Session {
  layout: Layout;
  config: Config;
  runtime: ResolvedRuntime;
}

/** A session holding the lock and the journal. */
export interface JournalSession extends Session {
  journal: Journal;
}

export interface MutationSession extends JournalSession {
  recovery: RecoveryReport;
}

export async function openSession(options: RootOptions): Promise<Session> {
  const layout = layoutOf(options.root);
  return { layout, config: await readConfig(layout.root), runtime: resolveRuntime(options) };
}

/** Run `action` holding the root's lock, after recovering whatever an earlier run left. */
export async function mutate<T>(options: RootOptions, command: string, action: (session: MutationSession) => Promise<T>, recoverOptions: RecoverOptions = {}): Promise<T> {
  const session = await openSession(options);
  const { layout, runtime } = session;
  await fs.mkdir(layout.releases, { recursive: true });
  await fs.mkdir(layout.staging, { recursive: true });
  return withLock(layout.root, { command, waitSeconds: runtime.waitSeconds }, async () => {
    const journal = await Journal.open(layout.root);
    const recovery = await recoverRoot({ ...session, journal }, recoverOptions);
    return action({ ...session, journal, recovery });
  });
}
