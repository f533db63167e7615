/**
 * The outcome of an update or rollback asked for from chat, reported in the same conversation after the restart.
 * The command records `{ txId, agentId, sessionKey }` in the plugin's state dir; the plugin's service, started by the
 * new gateway process, reads it, waits for release-switcher's journal to close that transaction (the runner is
 * still verifying the new process when it starts), and appends the outcome to the session's transcript. OpenClaw's
 * own restart sentinel is internal to its updater (no plugin API writes it), hence this record.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Transaction, UpdateStatus } from 'release-switcher';
import { describeTransaction, describeWarnings } from './describe.js';
import type { Logger } from './host.js';

export interface PendingReport {
  txId: string;
  agentId?: string | undefined;
  sessionKey?: string | undefined;
  /** The transcript's session id: OpenClaw's SQLite transcripts resolve by it (the key alone is refused). */
  sessionId?: string | undefined;
}

/** Where reports wait for the next process; absent until the service has started (it knows the state dir). */
export class PendingReports {
  #file: string | undefined;

  bind(stateDir: string): void {
    this.#file = path.join(stateDir, 'release-switcher', 'pending-reports.json');
  }

  async read(): Promise<PendingReport[]> {
    if (!this.#file) return [];
    const text = await readFile(this.#file, 'utf8').catch(() => '[]');
    return JSON.parse(text) as PendingReport[];
  }

  /** False when there is nowhere to report to (no conversation, or the service never started). */
  async add(report: PendingReport): Promise<boolean> {
    if (!this.#file || !report.sessionKey) return false;
    await this.write([...(await this.read()), report]);
    return true;
  }

  async write(reports: PendingReport[]): Promise<void> {
    if (!this.#file) return;
    if (reports.length === 0) return void (await rm(this.#file, { force: true }));
    await mkdir(path.dirname(this.#file), { recursive: true });
    const temp = `${this.#file}.${process.pid}.tmp`;
    await writeFile(temp, `${JSON.stringify(reports)}\n`, { mode: 0o600 });
    await rename(temp, this.#file);
  }
}

/** Appends an assistant note to a session's transcript, as OpenClaw's own post-restart update report does. */
export type Deliver = (report: PendingReport, text: string) => Promise<void>;

export function outcomeText(tx: Transaction | null, txId: string): string {
  if (!tx || tx.id !== txId)
    return `release-switcher: transaction ${txId} is no longer the last one; see /releases status.`;
  const verdict =
    tx.status === 'verified'
      ? `${tx.to} is running`
      : tx.status === 'rolled_back'
        ? `${tx.to} failed, ${tx.from} is running again`
        : 'see /releases status';
  const warnings = describeWarnings(tx);
  return `release-switcher: ${describeTransaction(tx)}; ${verdict}.${warnings ? `\n${warnings}` : ''}`;
}

/**
 * Reports every pending transaction that has finished; keeps the others for a later process. Polls the journal
 * (read-only) every `pollMs` until `deadlineMs`; a transaction still in flight then stays pending, and so does a
 * report whose delivery failed (retried at each poll; at the deadline it is dropped with a warning).
 */
export async function deliverPending(options: {
  reports: PendingReports;
  status: () => Promise<UpdateStatus>;
  deliver: Deliver;
  logger: Logger;
  pollMs?: number;
  deadlineMs?: number;
  signal?: AbortSignal;
}): Promise<void> {
  const { reports, status, deliver, logger, pollMs = 2_000, deadlineMs = 15 * 60_000, signal } = options;
  const started = Date.now();
  for (;;) {
    const pending = await reports.read();
    if (pending.length === 0 || signal?.aborted) return;
    const now = await status();
    const left: PendingReport[] = [];
    const late = Date.now() - started > deadlineMs;
    for (const report of pending) {
      const tx = now.transaction;
      if (tx?.id === report.txId && tx.finishedAt === null) left.push(report);
      else
        await deliver(report, outcomeText(tx, report.txId)).catch((error: unknown) => {
          if (!late) left.push(report);
          logger.warn(`release-switcher: could not report ${report.txId} in its conversation: ${String(error)}`);
        });
    }
    await reports.write(left);
    if (left.length === 0 || late) return;
    await new Promise((resolve) => setTimeout(resolve, pollMs).unref());
  }
}
