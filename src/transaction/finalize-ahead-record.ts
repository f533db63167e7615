/**
 * Finalize done ahead's record and folders (finalize-ahead-step.ts makes them, finalize-ahead-swap.ts puts them in
 * place in the window): `<root>/preflight/ahead-<tx>.json` (root's) names the ready copy, the aside folder and the
 * databases' base inside the state folder, and what the window needs to judge and swap. The one owner of that record:
 * it is read, written and removed here, with the folders it names (discardAhead, for the driver and for recovery).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { readJsonIfExists, writeFileAtomic } from '../platform/fs.js';
import type { FinalizeVerdict } from '../service/finalize.js';
import type { Entries } from '../snapshot/ahead-account.js';
import type { TableDigests } from '../snapshot/sqlite-tables.js';
import { onStateSide } from '../snapshot/state-side.js';
import type { Layout } from '../store/layout.js';
import type { JournalSession } from '../store/session.js';
import { serviceIdentity } from './service-identity.js';
import type { Run } from './steps.js';

/** What the step leaves for the window: kept in `<root>/preflight/ahead-<tx>.json` (root's). */
export interface AheadRecord {
  tx: string;
  /** The live state folder (its real path), the ready copy and the aside folder inside it. */
  live: string;
  ready: string;
  aside: string;
  /** Set once finalize succeeded on the copy and its write set is known: the window may swap. */
  complete: boolean;
  /** The live folder's entries by metadata when the copy was made. */
  before?: Entries;
  /** What finalize changed: entries (a folder's ends in `/`), in the order they are put in place. */
  writes?: string[];
  /** Each database of the copy (relative path) by table: as copied, as finalize met it, as finalize left it. */
  tables?: Record<string, { base: TableDigests; prepared: TableDigests; finalized: TableDigests }>;
  /** The preset's private folders (service/finalize.ts OnCopy), for the account: what finalize had, the rehearsal has. */
  privateFolders?: string[];
  /**
   * The root's independent paths inside the live folder (relative; the install inside the state): not in the copy nor
   * compared, and seen at their live place, read-only, by finalize and the rehearsal (OnCopy.kept).
   */
  kept?: string[];
  /**
   * The preset's unaffected paths, the tables where a row both changed keeps finalize's version, and those where it
   * keeps the live service's.
   */
  unaffected?: string[];
  ownedTables?: string[];
  liveTables?: string[];
  /** Finalize's verdict on the copy (its warnings are the transaction's once the result is put in place). */
  verdict?: FinalizeVerdict;
}

const recordFile = (layout: Layout, tx: string) => path.join(layout.preflight, `ahead-${tx}.json`);

export async function readAheadRecord(layout: Layout, tx: string): Promise<AheadRecord | undefined> {
  const record = (await readJsonIfExists(recordFile(layout, tx)).catch(() => undefined)) as AheadRecord | undefined;
  return record?.tx === tx ? record : undefined;
}

/**
 * The finalized copy the rehearsal starts the candidate on, when finalize ran ahead for this transaction: seen at the
 * live folder's path in a namespace of its own, as finalize saw it (the paths the state's rows and records name are the
 * live ones), with the preset's private folders. The rehearsal copies it first: the ready copy itself is what the window
 * puts in place, and a candidate's start writes.
 */
export async function finalizedCopy(
  session: Pick<JournalSession, 'layout'>,
  tx: Pick<Run['tx'], 'id'>,
): Promise<{ ready: string; live: string; privateFolders: string[]; kept: string[] } | undefined> {
  const record = await readAheadRecord(session.layout, tx.id);
  if (!record?.complete) return undefined;
  return {
    ready: record.ready,
    live: record.live,
    privateFolders: record.privateFolders ?? [],
    kept: record.kept ?? [],
  };
}

/** The databases as copied, kept beside the copy: the base of a row-by-row merge. */
export const baseOf = (record: Pick<AheadRecord, 'ready'>) => `${record.ready}-base`;

/** The ready copy, the aside folder and the record removed (a transaction that ended, or recovery's). */
export async function discardAhead(
  session: Pick<JournalSession, 'layout' | 'config' | 'runtime'>,
  tx: string,
): Promise<void> {
  const record = await readAheadRecord(session.layout, tx);
  if (!record) return;
  const { runAs: as } = await serviceIdentity(session);
  const folders = [record.ready, record.aside, baseOf(record)];
  await onStateSide(as, 'aheadRemove', [], { live: record.live, folders }).catch(() => undefined);
  await fs.rm(recordFile(session.layout, tx), { force: true });
}

export async function writeRecord(layout: Layout, record: AheadRecord): Promise<void> {
  await writeFileAtomic(recordFile(layout, record.tx), `${JSON.stringify(record)}\n`);
}
