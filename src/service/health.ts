/**
 * Verifying a freshly started release: the health endpoint must answer 2xx with the target version
 * within the deadline, and then keep doing so for the stability window while the supervisor shows
 * the same main process and no restart. Only a verified new process is success (seed 001).
 */
import http from 'node:http';
import https from 'node:https';
import type { ServiceProcesses, ServiceState, Supervisor } from './supervisors/types.js';
import { isDeadlineError, withDeadline } from '../platform/deadline.js';
import type { Target } from './listener-table.js';
import { checkListener, type ListenerNote, pinnedLookup, stillReceives } from './listener-owner.js';
import { ReleaseSwitcherError } from '../model/errors.js';
import type { StartedWhen } from '../model/started-when.js';

/**
 * `not_ready`: healthy, but a channel or subsystem ready before is not after (`readiness: require`; contract-success.ts).
 * `port_taken`: the health URL's listener is another process's, not the service's (listener-owner.ts).
 */
export type VerifyFailure =
  | 'crashed'
  | 'exit_78'
  | 'unhealthy'
  | 'version_mismatch'
  | 'timeout'
  | 'not_ready'
  | 'port_taken';

export interface VerifyOptions {
  supervisor: Supervisor | null;
  healthUrl: string | null;
  /** Dot path of the version in the health JSON. */
  versionField: string;
  /** A field the body must hold for a 2xx to count (openclaw's `/startupz`: `status: "started"`; presets/openclaw/index.ts). */
  startedWhen?: StartedWhen | undefined;
  expectedVersion: string;
  timeoutMs: number;
  stableMs: number;
  /** Interval between probes after the first second (20 ms before). @default 250 */
  pollMs?: number;
  /** How long one probe waits for an answer before it counts as silence (no answer). @default 2000 */
  probeTimeoutMs?: number;
  /**
   * In the stability window, how long the endpoint may go without answering at all (the same process running, the
   * supervisor content) before the release is judged unhealthy, once the start's deadline (`timeoutMs`) has passed.
   * @default STALL_GRACE_MS
   */
  stallGraceMs?: number;
  onProbe?: (message: string) => void;
  /**
   * A health URL held by another process's listener fails at once (the rehearsal, which then takes another port);
   * otherwise it is waited out like any unhealthy answer until the deadline (the service may yet bind it). @default false
   */
  portTakenFails?: boolean;
  /** Aborting ends the verification between probes: it rejects with CANCELLED (the supervisor's own calls take it too). */
  signal?: AbortSignal | undefined;
}

/** Stop when the caller aborted: the verification rejects with CANCELLED rather than judging the release. */
function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  throw new ReleaseSwitcherError('CANCELLED', 'Verification was cancelled before it judged the release.', {
    hint: 'The switch stays in flight: release-switcher recover (or the next command) verifies it again, or rolls it back.',
    cause: signal.reason,
  });
}

export interface VerifyEvidence {
  probes: number;
  /** Milliseconds from the start of verification to the first good probe. */
  healthyAfterMs: number | null;
  lastHttpStatus: number | null;
  lastVersion: string | null;
  lastError: string | null;
  state: ServiceState | null;
  /**
   * Whose listener the last probe was sent to: its address (`ours`), or why ownership was not judged; and every
   * other process's listener seen on the health URL's addresses during this verification, with its owner.
   */
  listener?: ListenerNote;
}

export type VerifyResult =
  | { ok: true; evidence: VerifyEvidence }
  | { ok: false; reason: VerifyFailure; detail: string; evidence: VerifyEvidence };

const PROBE_TIMEOUT_MS = 2_000;
/**
 * A process that is up but whose event loop is busy for a few seconds (measured: openclaw 2026.9.6 resuming an
 * interrupted chat turn just after its start, under load, left /startupz unanswered for over 2 s) is not a broken
 * release: silence is tolerated this long, and in any case until the start's deadline (`timeoutMs` from the restart)
 * has passed: a process that answered early and then went quiet is judged no sooner than one that had not answered
 * yet (measured: the same gateway on a host at load 9, silent for over 15 s between its first `started` and the
 * end of its start; OpenClaw's own updater resets its settle on a failed probe and fails only at its deadline,
 * `waitForGatewayHealthyRestart`). A wrong answer (not 2xx, another version) or a crash still fails at once.
 */
const STALL_GRACE_MS = 15_000;
/** Probe interval in the first second after a restart. */
const FAST_POLL_MS = 20;
/**
 * How often, at most, the supervisor is asked while waiting for the first healthy answer. Each ask is a systemctl
 * process, forked from this one: 12 ms of CPU at 370 MB resident (measured, Node 20), and an update's CLI holds about
 * 500 MB by the time it verifies, on the cores the starting service needs (an openclaw gateway's start is CPU-bound:
 * 20 CPU-s). Asked every 250 ms, it took 5.8 of the 49 CPU-s an update's CLI spent on its main thread on the real
 * gateway (a refused rehearsal's, profiled), and 12.3 of the 83 CPU-s of an update's (npm-global shape, with a plugin,
 * at a load of 4-6); a crash is still seen within a second, and a healthy answer is always confirmed by one more ask.
 */
const STATE_EVERY_MS = 1_000;

export function readField(value: unknown, dotPath: string): unknown {
  return dotPath
    .split('.')
    .reduce<unknown>(
      (node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined),
      value,
    );
}

/**
 * Why a 2xx `answer` of `url` is not a healthy one, or null when it is: its body must hold what `startedWhen` names
 * (openclaw's /startupz: `status: "started"`; presets/openclaw/index.ts). The one rule of every judge of a health URL:
 * verification after a flip, the rehearsal (through verifyRunning), doctor's health check.
 */
export function notStarted(
  url: string,
  answer: { status: number; body: unknown },
  startedWhen: StartedWhen | undefined,
): string | null {
  if (!startedWhen) return null;
  const said = readField(answer.body, startedWhen.field);
  if (said === startedWhen.value) return null;
  return `${url} answered ${answer.status} with ${startedWhen.field} ${said === undefined ? '(none)' : JSON.stringify(said)}, not ${JSON.stringify(startedWhen.value)}`;
}

/** `silent`: connected (or connecting) but no answer in time: a busy process, not a missing listener. */
type Probe = { ok: true } | { ok: false; reason: VerifyFailure; detail: string; silent?: boolean };

/**
 * GET a health URL with Node's http client, one connection per probe (no pool): undici's fetch keeps
 * the process alive for about half a second after its last request (its pool's timers), which every
 * activation paid at its end, after verification. Settles by `timeoutMs` (platform/deadline.ts); a
 * connection that closes before the body ended is an error, not a wait.
 */
export function getJson(url: string, timeoutMs: number, pinned?: Target): Promise<{ status: number; body: unknown }> {
  return withDeadline(
    timeoutMs,
    `GET ${url}`,
    (signal) =>
      new Promise((resolve, reject) => {
        const target = new URL(url);
        const get = target.protocol === 'https:' ? https.get : target.protocol === 'http:' ? http.get : undefined;
        if (!get) return reject(new Error(`unsupported protocol ${target.protocol}`));
        // Pinned: connect to that address only (the one whose listener was proven ours), the URL's host kept for the
        // Host header and TLS; not whichever address the resolver or Happy Eyeballs would try first.
        const lookup = pinned && pinnedLookup(pinned);
        const options = { agent: false, headers: { accept: 'application/json' }, signal, ...(lookup && { lookup }) };
        const request = get(target, options, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('close', () => {
            if (!response.complete) reject(new Error('the connection closed before the answer ended'));
          });
          response.on('end', () => {
            let body: unknown;
            try {
              body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              body = undefined;
            }
            resolve({ status: response.statusCode ?? 0, body });
          });
        });
        request.on('error', reject);
      }),
  );
}

/** How often `watchServing` asks, and how long one answer may take. */
const SERVING_POLL_MS = 100;
const SERVING_ANSWER_MS = 1_000;

/**
 * Ask `healthUrl` until told to stop: `stop()` says when (performance.now()) it first did not answer healthy (2xx, and
 * `startedWhen` as verification asks it: `notStarted`), or, when it answered healthy all along, now (it served until the moment the caller saw it go). It does not wait for a probe still
 * out: nothing waits on it. For the start of a stop window (transaction/window.ts); never for a decision.
 */
export function watchServing(healthUrl: string, startedWhen?: StartedWhen): { stop: () => number } {
  let done = false;
  let stoppedAt: number | undefined;
  const loop = async () => {
    while (!done && stoppedAt === undefined) {
      const asked = performance.now();
      const ok = await getJson(healthUrl, SERVING_ANSWER_MS).then(
        (answer) => answer.status >= 200 && answer.status <= 299 && !notStarted(healthUrl, answer, startedWhen),
        () => false,
      );
      if (!ok && !done) stoppedAt = asked;
      else await new Promise((resolve) => setTimeout(resolve, SERVING_POLL_MS));
    }
  };
  loop().catch(() => undefined);
  return {
    stop: () => {
      done = true;
      return stoppedAt ?? performance.now();
    },
  };
}

/** The processes whose listener may answer, where the supervisor says them (every adapter of ours does). */
async function serviceProcesses(
  options: VerifyOptions,
  evidence: VerifyEvidence,
): Promise<ServiceProcesses | undefined> {
  if (!options.supervisor) return undefined;
  return (evidence.state ?? (await options.supervisor.state())).processes;
}

async function probeHealth(options: VerifyOptions, evidence: VerifyEvidence): Promise<Probe> {
  if (!options.healthUrl) return { ok: true };
  evidence.probes++;
  const processes = await serviceProcesses(options, evidence);
  const first = processes && (await checkListener(options.healthUrl, processes, evidence));
  if (first?.failed) return first.failed;
  let response: { status: number; body: unknown };
  const probeTimeout = options.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
  try {
    response = await getJson(options.healthUrl, probeTimeout, first?.proof.address ?? undefined);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const silent = isDeadlineError(e) || e.code === 'ABORT_ERR';
    evidence.lastError = silent ? `no answer within ${probeTimeout} ms` : (e.code ?? e.message);
    return {
      ok: false,
      reason: 'timeout',
      detail: `no answer from ${options.healthUrl} (${evidence.lastError})`,
      silent,
    };
  }
  // The answer counts only if the listener proven before it still listens: then it was that listener that answered.
  if (first && processes && !(await stillReceives(first.proof, options.healthUrl))) {
    const after = await checkListener(options.healthUrl, processes, evidence);
    if (after.failed?.reason === 'port_taken') return after.failed;
    return {
      ok: false,
      reason: 'timeout',
      detail: `${options.healthUrl}: the listener that answered closed meanwhile`,
    };
  }
  evidence.lastHttpStatus = response.status;
  const version = readField(response.body, options.versionField);
  evidence.lastVersion = typeof version === 'string' ? version : version === undefined ? null : String(version);
  if (response.status < 200 || response.status > 299)
    return { ok: false, reason: 'unhealthy', detail: `${options.healthUrl} answered ${response.status}` };
  const unstarted = notStarted(options.healthUrl, response, options.startedWhen);
  if (unstarted) return { ok: false, reason: 'unhealthy', detail: unstarted };
  if (evidence.lastVersion !== options.expectedVersion) {
    return {
      ok: false,
      reason: 'version_mismatch',
      detail: `${options.healthUrl} reports version ${evidence.lastVersion ?? '(none)'}, expected ${options.expectedVersion}`,
    };
  }
  return { ok: true };
}

/** A failure the supervisor shows: the process exited, was restarted, or refuses to run (78). */
function supervisorFailure(state: ServiceState, baseline: ServiceState | null): Probe {
  if (state.exitStatus === 78 && !state.active)
    return {
      ok: false,
      reason: 'exit_78',
      detail: `the service exited 78 (do not restart: config or state it cannot use)`,
    };
  if (baseline) {
    if (state.restarts !== null && baseline.restarts !== null && state.restarts > baseline.restarts) {
      return {
        ok: false,
        reason: 'crashed',
        detail: `the supervisor restarted it (${state.restarts - baseline.restarts} restart(s), state ${state.state})`,
      };
    }
    if (baseline.mainPid !== null && state.mainPid !== baseline.mainPid) {
      return {
        ok: false,
        reason: 'crashed',
        detail: `its main process changed (${baseline.mainPid} → ${state.mainPid ?? 'none'}, state ${state.state})`,
      };
    }
  }
  if (!state.active && !state.state.startsWith('activating')) {
    return {
      ok: false,
      reason: 'crashed',
      detail: `the service is ${state.state}${state.exitStatus !== null ? `, exit status ${state.exitStatus}` : ''}${state.detail ? ` (${state.detail})` : ''}`,
    };
  }
  return { ok: true };
}

/** How long after a failed health probe the supervisor is asked again whether the process died. */
const ATTRIBUTE_AFTER_MS = 300;

export async function verifyRunning(options: VerifyOptions, baseline: ServiceState | null): Promise<VerifyResult> {
  const result = await verdictOf(options, baseline);
  const strangers = result.evidence.listener?.strangers ?? [];
  // A failure for another reason (a crash: the port it wanted was held) still names who held the health URL's port.
  if (result.ok || result.reason === 'port_taken' || strangers.length === 0) return result;
  return { ...result, detail: `${result.detail} (meanwhile ${strangers.join('; ')})` };
}

async function verdictOf(options: VerifyOptions, baseline: ServiceState | null): Promise<VerifyResult> {
  const evidence: VerifyEvidence = {
    probes: 0,
    healthyAfterMs: null,
    lastHttpStatus: null,
    lastVersion: null,
    lastError: null,
    state: baseline,
  };
  const pollMs = options.pollMs ?? 250;
  const started = Date.now();
  // A restarted Node service usually answers within a few hundred milliseconds: poll fast at first
  // (every 20 ms for the first second), then settle to pollMs so a slow start is not hammered.
  const { signal } = options;
  const sleep = (ms = Date.now() - started < 1_000 ? Math.min(FAST_POLL_MS, pollMs) : pollMs) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }).then(() => throwIfCancelled(signal));
  const check = async (against: ServiceState | null): Promise<Probe> => {
    if (options.supervisor) {
      evidence.state = await options.supervisor.state();
      const failed = supervisorFailure(evidence.state, against);
      if (!failed.ok) return failed;
    }
    return probeHealth(options, evidence);
  };
  // Phase 1: healthy and the right version, before the deadline. The supervisor is asked (a
  // systemctl process each time) at most every STATE_EVERY_MS, beside the health probe rather than
  // before it, and always once more when the probe answers healthy: a process that crashed and was
  // restarted in between shows there. Between those, only the endpoint is probed, so the first good
  // answer is seen within FAST_POLL_MS of when it comes.
  let stateAt = Number.NEGATIVE_INFINITY;
  const askSupervisor = async (): Promise<Probe> => {
    stateAt = Date.now();
    evidence.state = await options.supervisor!.state();
    return supervisorFailure(evidence.state, baseline);
  };
  const firstCheck = async (): Promise<Probe> => {
    if (!options.supervisor) return probeHealth(options, evidence);
    const asked = Date.now() - stateAt >= STATE_EVERY_MS;
    const [failed, probe] = await Promise.all([
      asked ? askSupervisor() : Promise.resolve<Probe>({ ok: true }),
      probeHealth(options, evidence),
    ]);
    if (!failed.ok) return failed;
    if (!probe.ok || asked) return probe;
    const confirmed = await askSupervisor();
    return confirmed.ok ? probe : confirmed;
  };
  let last: Probe = { ok: false, reason: 'timeout', detail: 'never probed' };
  for (;;) {
    throwIfCancelled(signal);
    last = await firstCheck();
    throwIfCancelled(signal);
    if (last.ok) break;
    if (
      last.reason === 'crashed' ||
      last.reason === 'exit_78' ||
      (last.reason === 'port_taken' && options.portTakenFails)
    )
      return { ok: false, reason: last.reason, detail: last.detail, evidence };
    const left = options.timeoutMs - (Date.now() - started);
    options.onProbe?.(`${last.detail}; ${Math.max(0, Math.ceil(left / 1000))} s left`);
    if (left <= 0)
      return {
        ok: false,
        reason: last.reason,
        detail: `not healthy within ${options.timeoutMs / 1000} s: ${last.detail}`,
        evidence,
      };
    await sleep();
  }
  evidence.healthyAfterMs = Date.now() - started;
  // A health probe that fails just as the process dies sees the refusal before the supervisor has
  // noticed the exit: ask the supervisor again a moment later, so a crash is reported as one.
  const attribute = async (failed: Probe, against: ServiceState | null): Promise<Probe> => {
    if (!options.supervisor) return failed;
    await sleep(ATTRIBUTE_AFTER_MS);
    evidence.state = await options.supervisor.state();
    const crashed = supervisorFailure(evidence.state, against);
    return crashed.ok ? failed : crashed;
  };
  // Phase 2: hold for the stability window with the same process. Silence (no answer, the process still there) is
  // a stall: tolerated up to the grace or the start's deadline, whichever is later, and the window does not end in
  // one (it is stable only once answered again).
  const stableBaseline = evidence.state;
  const stableUntil = Date.now() + options.stableMs;
  const grace = options.stallGraceMs ?? STALL_GRACE_MS;
  const startDeadline = started + options.timeoutMs;
  let stalledSince: number | null = null;
  while (Date.now() < stableUntil || stalledSince !== null) {
    await sleep();
    const probedAt = Date.now();
    let probe = await check(stableBaseline);
    throwIfCancelled(signal);
    if (!probe.ok && probe.reason !== 'crashed' && probe.reason !== 'exit_78')
      probe = await attribute(probe, stableBaseline);
    if (probe.ok) {
      stalledSince = null;
      continue;
    }
    if (probe.reason === 'timeout' && probe.silent) {
      stalledSince ??= probedAt;
      if (Date.now() < Math.max(stalledSince + grace, startDeadline)) continue;
      return {
        ok: false,
        reason: 'unhealthy',
        detail: `within the stability window: ${probe.detail}, for ${Math.round((Date.now() - stalledSince) / 1000)} s`,
        evidence,
      };
    }
    return {
      ok: false,
      reason: probe.reason === 'timeout' ? 'unhealthy' : probe.reason,
      detail: `within the stability window: ${probe.detail}`,
      evidence,
    };
  }
  return { ok: true, evidence };
}
