/**
 * Finishing or undoing whatever a killed process left: run under the lock before every mutation,
 * and by `recover`. The rule is simple because the flip is the only point of no return:
 * a transaction whose `current` already names its target is finished, any other is undone.
 */
import fs from 'node:fs/promises';
import { errnoOf } from './errors.js';
import { fsyncDir, removeTree } from './fsutil.js';
import type { Journal, Transaction } from './journal.js';
import type { Layout } from './layout.js';
import { pointLink, readLinkVersion, removeLink } from './links.js';
import { listReleaseDirs, readMarker } from './release.js';

export interface RecoveryReport {
  /** The interrupted transaction, closed. */
  transaction: Transaction | null;
  /** What recovery did, one line each. */
  actions: string[];
}

export async function recoverRoot(journal: Journal, layout: Layout): Promise<RecoveryReport> {
  const actions: string[] = [];
  const transaction = await settleTransaction(journal, layout, actions);
  const operation = journal.state.operation;
  if (operation) {
    actions.push(`closed the interrupted ${operation.kind} ${operation.id}`);
    journal.state.operation = null;
  }
  await sweepStaging(layout, actions);
  await sweepTempFiles(layout, actions);
  await reconcileReleases(journal, layout, actions);
  if (actions.length > 0) await journal.commit('recover:begin');
  return { transaction, actions };
}

async function settleTransaction(journal: Journal, layout: Layout, actions: string[]): Promise<Transaction | null> {
  const tx = journal.state.transaction;
  if (!tx) return null;
  const current = await readLinkVersion(layout, 'current');
  const started = Date.now();
  if (tx.to !== null && current === tx.to) {
    // The flip happened: finish. With no supervisor to restart, that is all a switch is.
    if (tx.from !== null && (await readLinkVersion(layout, 'previous')) !== tx.from) await pointLink(layout, 'previous', tx.from);
    const record = journal.state.releases[tx.to];
    if (record && record.state === 'installed') record.state = 'pending';
    tx.status = 'switched';
    tx.reason = 'interrupted, finished by recover';
    actions.push(`finished the interrupted ${tx.kind} ${tx.id} to ${tx.to}`);
  } else {
    // The flip did not happen: put the links back where they were and report the transaction failed.
    const before = tx.before ?? { current, previous: await readLinkVersion(layout, 'previous') };
    if (before.current !== null && current !== before.current) await pointLink(layout, 'current', before.current);
    const previous = await readLinkVersion(layout, 'previous');
    if (previous !== before.previous) {
      if (before.previous === null) await removeLink(layout, 'previous');
      else await pointLink(layout, 'previous', before.previous);
    }
    tx.status = 'failed';
    tx.reason = 'interrupted';
    actions.push(`undid the interrupted ${tx.kind} ${tx.id} (current stays ${before.current ?? 'unset'})`);
  }
  for (const step of tx.steps) if (step.status === 'running') step.status = 'failed';
  tx.steps.push({ name: 'recover', status: 'ok', ms: Date.now() - started, detail: actions.at(-1) });
  tx.finishedAt = new Date().toISOString();
  journal.archiveTransaction();
  return tx;
}

/** Nothing but the stager, under the lock, uses staging/: whatever is there now is a leftover. */
async function sweepStaging(layout: Layout, actions: string[]): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(layout.staging);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return;
    throw error;
  }
  for (const name of names) {
    await removeTree(`${layout.staging}/${name}`);
    actions.push(`removed staging leftover ${name}`);
  }
}

/** Temp files of an atomic write or link flip that was killed between create and rename. */
async function sweepTempFiles(layout: Layout, actions: string[]): Promise<void> {
  for (const name of await fs.readdir(layout.root)) {
    if (!/^\..+\.tmp-\d+-[0-9a-f]+$/.test(name)) continue;
    await fs.rm(`${layout.root}/${name}`, { force: true });
    actions.push(`removed temp file ${name}`);
  }
}

/** Make the journal's release records agree with the release directories. */
async function reconcileReleases(journal: Journal, layout: Layout, actions: string[]): Promise<void> {
  const { complete } = await listReleaseDirs(layout);
  const onDisk = new Set(complete);
  for (const version of complete) {
    if (journal.state.releases[version]) continue;
    // Renamed into place but killed before the journal recorded it: the marker has all we need.
    const marker = await readMarker(layout, version);
    if (!marker) continue;
    journal.state.releases[version] = { version, state: 'installed', pinned: false, installedAt: marker.installedAt, integrity: marker.integrity, source: marker.source };
    actions.push(`recorded release ${version} found on disk`);
  }
  for (const version of Object.keys(journal.state.releases)) {
    if (onDisk.has(version)) continue;
    delete journal.state.releases[version];
    actions.push(`forgot release ${version}: its directory is gone`);
  }
  if (actions.length > 0) await fsyncDir(layout.root).catch(() => undefined);
}
