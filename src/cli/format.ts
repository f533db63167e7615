/** Plain-text rendering of results for people, and how a transaction maps to the envelope and exit code. */
import { ExitCode, ReleaseSwitcherError } from '../model/errors.js';
import type { OriginBy, OriginWhy, Transaction, TransactionOrigin, TransactionWarning } from '../model/state.js';
import type { BootCheckStatus, Running } from '../verbs/status.js';
import { BOOT_CHECK_HINT, describeRun } from '../store/boot-check-record.js';
import type { CommandOutcome } from './context.js';
import type { SwitchPlan } from '../transaction/plan.js';

export function describeTransaction(tx: Transaction | null): string {
  if (!tx) return 'no transaction yet';
  const arrow = `${tx.from ?? '(none)'} → ${tx.to ?? '(none)'}`;
  const steps = tx.steps.map(
    (s) =>
      `  ${s.name.padEnd(16)} ${s.status.padEnd(8)} ${String(s.ms).padStart(6)} ms${s.detail ? `  ${s.detail}` : ''}`,
  );
  return [
    `${tx.kind} ${arrow}: ${tx.status}${tx.reason ? ` (${tx.reason})` : ''}  [${tx.id}]`,
    ...(tx.channel ? [`  channel ${tx.channel.channel} (${tx.channel.from})`] : []),
    ...(tx.origin ? [`  ${originText(tx.origin)}`] : []),
    ...steps,
    ...(tx.window ? [`  ${windowText(tx.window)}`] : []),
    ...(tx.warnings ?? []).map((w) => `  warning: ${warningText(w)}`),
  ].join('\n');
}

const BY_WORDS: Record<OriginBy, string> = {
  command: 'a command',
  timer: 'the auto-update timer',
  'openclaw-rpc': "OpenClaw's gateway RPC",
  'openclaw-chat': 'an OpenClaw chat command',
  'openclaw-agent': "the OpenClaw agent's update call",
  fleet: 'a fleet play (the Ansible module)',
  'boot-check': "the unit's boot-check",
  api: 'a program using the release-switcher library',
};

const WHY_WORDS: Record<OriginWhy, string> = {
  requested: 'asked for',
  channel: "the channel's version",
  newer_version: 'a newer release on the channel',
  current_deprecated: 'the running release was deprecated on the registry',
  current_unpublished: 'the running release was unpublished (yanked) from the registry',
  failed_verification: 'the release failed its verification',
};

/** Who started a transaction and why, in words: `started by the auto-update timer: a newer release on the channel (…)`. */
export function originText(origin: TransactionOrigin): string {
  const by = `${BY_WORDS[origin.by] ?? origin.by}${origin.user ? ` (${origin.user})` : ''}`;
  return `started by ${by}: ${WHY_WORDS[origin.why] ?? origin.why}${origin.detail ? ` (${origin.detail})` : ''}`;
}

/** The stop window on one line: its length, then where it went. */
export function windowText(window: NonNullable<Transaction['window']>): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return `stop window ${s(window.totalMs)}: ${window.parts.map((p) => `${p.part} ${s(p.ms)}`).join(', ')}`;
}

/** One warning a transaction passed on, on one line: where it comes from, then what it said. */
export function warningText(w: TransactionWarning): string {
  const source = [w.step, w.plugin && `plugin ${w.plugin}`, w.code].filter(Boolean).join(', ');
  return `(${source}) ${w.message.replace(/\s*\n\s*/g, ' ')}`;
}

/**
 * docs/exit-codes-and-json.md: `rolled_back` and `rollback_failed` are failures whose envelope carries the
 * transaction as `result` (exit 3 and 4); `scheduled` is accepted work and succeeds (exit 0), its status saying
 * so; `failed` exits 1.
 */
export function transactionOutcome(tx: Transaction): CommandOutcome {
  // Rolled back, but without the checkpoint it was owed: the previous release runs on the state the failed one left.
  if (tx.status === 'rolled_back' && tx.reason === 'state_checkpoint_missing') {
    throw new ReleaseSwitcherError(
      'STATE_CHECKPOINT_MISSING',
      `${tx.to} started without the state checkpoint it was owed (the boot-check did not take one); ${tx.from} is running again and verified, on the state ${tx.to} left: no checkpoint went back, so what ${tx.to} changed in it stays.`,
      {
        hint: "See why the boot-check did not run: release-switcher status, release-switcher doctor, the unit's log. release-switcher unit --install writes its command again; then switch again.",
        result: tx,
      },
    );
  }
  if (tx.status === 'rolled_back') {
    throw new ReleaseSwitcherError(
      'ROLLED_BACK',
      `${tx.to} failed (${tx.reason}); ${tx.from} is running again and verified.`,
      {
        hint: `${tx.to} is marked bad. See why: release-switcher status`,
        result: tx,
      },
    );
  }
  if (tx.status === 'rollback_failed') {
    throw new ReleaseSwitcherError(
      'ROLLBACK_FAILED',
      `${tx.to} failed (${tx.reason}) and ${tx.from ?? 'no earlier release'} could not be brought back.`,
      {
        hint: tx.hint ?? 'See release-switcher status.',
        result: tx,
      },
    );
  }
  const human =
    tx.status === 'scheduled'
      ? `${describeTransaction(tx)}\nscheduled: handed to a runner outside the service; follow it with: release-switcher status (or run the command with --wait)`
      : describeTransaction(tx);
  return { result: tx, human, exitCode: tx.status === 'failed' ? ExitCode.failed : ExitCode.ok };
}

/** Columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `status` for people: what runs, what happened last and why, in a few lines. */
export function statusStory(result: {
  current: string | null;
  previous: string | null;
  running?: Running | null;
  transaction: Transaction | null;
  autoUpdate?: { paused: boolean; since?: string; user?: string; reason?: string };
  bootCheck?: BootCheckStatus | null;
}): string {
  const lines = [
    `${result.current ? `Running ${result.current}` : 'Nothing activated yet'}${result.previous ? `; previous ${result.previous} is the rollback target` : ''}.`,
  ];
  const tx = result.transaction;
  if (tx) {
    const when = tx.finishedAt ?? tx.startedAt;
    const took = tx.finishedAt
      ? ` in ${((Date.parse(tx.finishedAt) - Date.parse(tx.startedAt)) / 1000).toFixed(1)} s`
      : '';
    const story: Record<string, string> = {
      verified: `${tx.kind} ${tx.from ?? '(none)'} → ${tx.to} was verified${took}.`,
      switched: `${tx.kind} ${tx.from ?? '(none)'} → ${tx.to} flipped current${took}; restarting the service is the operator's job.`,
      up_to_date: `${tx.to} was already current.`,
      rolled_back: `${tx.kind} to ${tx.to} failed (${tx.reason}); ${tx.from} was brought back and verified${took}.`,
      rollback_failed: `${tx.kind} to ${tx.to} failed (${tx.reason}) and ${tx.from ?? 'nothing'} could not be brought back: a human must act.${tx.hint ? ` ${tx.hint}` : ''}`,
      failed: `${tx.kind} to ${tx.to} failed before anything changed (${tx.reason}).`,
    };
    lines.push(
      `Last: ${story[tx.status] ?? `${tx.kind} to ${tx.to} is ${tx.status} (since ${tx.startedAt}).`} [${tx.id}, ${when}]`,
    );
    if (tx.origin) lines.push(`${capitalized(originText(tx.origin))}.`);
    const failedStep = tx.steps.find((s) => s.status === 'failed');
    if (failedStep?.detail) lines.push(`Why: ${failedStep.name}: ${failedStep.detail}`);
  }
  const pause = result.autoUpdate;
  if (pause?.paused)
    lines.push(
      `Auto-update is PAUSED${pause.since ? ` since ${pause.since}` : ''}${pause.user ? ` by ${pause.user}` : ''}${pause.reason ? ` (${pause.reason})` : ''}: ticks do nothing until release-switcher timer --resume.`,
    );
  const running = describeRunning(result.current, result.running ?? null);
  if (running) lines.push(running);
  const boot = describeBootCheck(result.bootCheck ?? null);
  if (boot) lines.push(boot);
  return lines.join('\n');
}

/** The boot-check's last run; loud when it did not run at the service's present start. */
function describeBootCheck(boot: BootCheckStatus | null): string | null {
  if (!boot) return null;
  if (boot.atLastStart === 'did-not-run')
    return `BOOT-CHECK DID NOT RUN: ${boot.detail}. Without it no state checkpoint is taken before a release first starts (a switch owed one fails: STATE_CHECKPOINT_MISSING) and a crash loop is not counted. ${BOOT_CHECK_HINT}`;
  return boot.last ? `Boot-check: last ran ${describeRun(boot.last)}.` : `Boot-check: ${boot.detail}.`;
}

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** What the service runs, in words; loud when it is not `current`. */
function describeRunning(current: string | null, running: Running | null): string | null {
  if (!running) return null;
  const who = `${running.pid ? `pid ${running.pid}` : 'the service'}${running.since ? ` (started ${running.since})` : ''}`;
  if (running.version === null) return `The service runs (${who}), but which release cannot be told.`;
  if (!running.stale) return `The service runs ${running.version} (${who}).`;
  return `NOT RESTARTED: the service still runs ${running.version} (${who}, told by ${running.source}), not current ${current ?? '(none)'}. Restart it to run ${current ?? 'current'}.`;
}

/** A switch, rollback or update plan for people. */
/** The plan's stop window (the steps that time its parts) and its way back, when the plan shows them. */
function describeWindowAndWayBack(plan: SwitchPlan): string[] {
  if (!plan.plan || plan.action !== 'switch') return [];
  const window = plan.plan.forward
    .filter((step) => step.window)
    .map((step) => `${step.name} (${step.window!.join(', ')})`);
  const back = plan.plan.back.map((step) => (step.when ? `${step.name} [when ${step.when}]` : step.name));
  return [
    ...(window.length > 0 ? [`stop window: ${window.join(' → ')}`] : []),
    ...(back.length > 0 ? [`way back if it fails after the flip: ${back.join(' → ')}`] : []),
  ];
}

export function describeSwitchPlan(plan: SwitchPlan): string {
  const head = `${plan.kind} ${plan.from ?? '(none)'} → ${plan.to}: ${plan.action === 'up_to_date' ? 'already current, nothing to do' : plan.action === 'refuse' ? 'would be refused' : `would run ${plan.steps.join(' → ')}`}`;
  const state = plan.state.action === 'none' ? [] : [`state: ${plan.state.action}: ${plan.state.detail}`];
  const database = plan.database
    ? [
        `database preflight (${plan.to}): ${plan.database.note ?? plan.database.verdicts!.map((v) => `${v.database}: ${v.status}`).join('; ') ?? ''}${plan.database.verdicts?.length === 0 ? 'no state database yet' : ''}`,
      ]
    : [];
  const node = plan.runtime ? [`Node: ${plan.runtime.from} -> ${plan.runtime.to} (the service moves with it)`] : [];
  const checkpoint = plan.checkpoint ? [`checkpoint AT RISK: ${plan.checkpoint.note}`] : [];
  return [
    head,
    ...describeWindowAndWayBack(plan),
    ...node,
    ...state,
    ...database,
    ...checkpoint,
    `supervisor: ${plan.supervisor}`,
    '(dry run: nothing changed)',
  ].join('\n');
}
