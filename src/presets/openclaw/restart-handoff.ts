/**
 * OpenClaw's restart handoff for external supervisors (docs/cli/gateway/restart-and-supervision.md, "External
 * supervisors"; openclaw/ocm src/supervisor/openclaw_handoff.rs drives it the same way): the running release's own CLI
 * is asked `gateway restart-handoff capabilities --json` (protocol 1 with `consume`), the running gateway is asked for
 * a restart (in external mode it writes a bounded handoff of its sessions and exits instead of draining for a service
 * manager), and once it has exited the handoff is consumed with its PID (`consume --expected-pid`): `accepted`
 * authorizes the fresh process; `none`/`rejected` do not. Every call is bounded: a CLI cold start is 3-9 s at idle.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { isAlive, killProcessGroup, runCaptured, startDetached, tail } from '../../platform/subprocess.js';
import type { ConsumeResult, HandoffCall, HandoffProtocol, RestartExit } from '../types.js';

const PROTOCOL = 'openclaw.gateway.restart-handoff';
const CALL_TIMEOUT_MS = 120_000;

export interface HandoffCommands {
  capabilities: readonly string[];
  /** Asks the running gateway for a fresh-process restart. */
  request: readonly string[];
  /** `{pid}` stands for the exited gateway's main PID. */
  consume: readonly string[];
}

/** OpenClaw's handoff, spoken with `commands` (the preset's, presets/openclaw/index.ts). */
export function openclawHandoff(commands: HandoffCommands): HandoffProtocol {
  return {
    supported: (call) => handoffSupported(call, commands),
    request: (call) => requestRestart(call, commands),
    consume: (call) => consumeHandoff(call, commands),
  };
}

/** The fields of the machine contract's answers we read. */
interface HandoffJson {
  ok?: unknown;
  protocol?: unknown;
  protocolVersion?: unknown;
  operations?: unknown;
  status?: unknown;
  reason?: unknown;
  handoff?: { pid?: unknown; supervisorMode?: unknown };
}

async function machine(
  call: HandoffCall,
  args: readonly string[],
): Promise<{ exitCode?: number | undefined; json?: HandoffJson }> {
  const [entry, ...rest] = args;
  const result = await runCaptured(call.node, [path.join(call.releaseDir, entry!), ...rest], {
    cwd: call.releaseDir,
    env: call.env,
    timeoutMs: CALL_TIMEOUT_MS,
    signal: call.signal,
    as: call.as,
  });
  const at = result.output.indexOf('{');
  try {
    return { exitCode: result.exitCode, json: JSON.parse(result.output.slice(at, result.output.lastIndexOf('}') + 1)) };
  } catch {
    return { exitCode: result.exitCode };
  }
}

/** Protocol 1 with `consume`, or why not. */
export async function handoffSupported(call: HandoffCall, commands: HandoffCommands): Promise<true | string> {
  if (!commands.capabilities.length) return 'no capability probe';
  const { exitCode, json } = await machine(call, commands.capabilities);
  if (exitCode !== 0 || !json) return `capabilities probe exited ${exitCode ?? 'by a signal'}`;
  const ok =
    json.ok === true &&
    json.protocol === PROTOCOL &&
    json.protocolVersion === 1 &&
    Array.isArray(json.operations) &&
    json.operations.includes('consume');
  return ok ? true : `capabilities: ${JSON.stringify(json)}`;
}

/**
 * A request that fails while the gateway still runs is made again, up to this many times in all, this far
 * apart: on the real gateway (2026.9.6 resuming a chat turn right after its start, at load 2-6) a request
 * once failed to reach it ("Source: local loopback … Bind: loopback", exit 1 after 3.5 s), and without the
 * handoff the way on is OpenClaw's drain stop (up to its 300 s).
 */
const REQUEST_ATTEMPTS = 3;
const RETRY_AFTER_MS = 2_000;

/**
 * Ask the running gateway (main PID `pid`) for its fresh-process restart and wait until that process has exited, up to
 * `timeoutMs`. The request command itself may wait for a successor we do not start yet: it is ended once `pid` is gone.
 * A request that fails (exits other than 0) while `pid` lives is made again (REQUEST_ATTEMPTS); `refused` says what the
 * last one printed. `retryAfterMs` is for tests, whose subject is the retrying, not the product's 2 s between requests.
 */
export async function requestRestart(
  call: HandoffCall & { pid: number; logFile: string; timeoutMs: number; retryAfterMs?: number },
  commands: HandoffCommands,
): Promise<RestartExit> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let refused: string | undefined;
  let attempts = 0;
  while (attempts < REQUEST_ATTEMPTS && elapsed() < call.timeoutMs) {
    attempts++;
    const once = await requestOnce(call, commands, call.timeoutMs - elapsed());
    if (once.exited || once.refused === undefined) return { exited: once.exited, ms: elapsed(), attempts };
    refused = once.refused;
    if (attempts < REQUEST_ATTEMPTS)
      await new Promise((resolve) => setTimeout(resolve, call.retryAfterMs ?? RETRY_AFTER_MS));
    if (!isAlive(call.pid)) return { exited: true, ms: elapsed(), attempts };
  }
  const exited = !isAlive(call.pid);
  return { exited, ms: elapsed(), attempts, ...(exited || refused === undefined ? {} : { refused }) };
}

async function requestOnce(
  call: HandoffCall & { pid: number; logFile: string },
  commands: HandoffCommands,
  timeoutMs: number,
): Promise<{ exited: boolean; refused?: string }> {
  const started = performance.now();
  const [entry, ...rest] = commands.request;
  const child = await startDetached(call.node, [path.join(call.releaseDir, entry!), ...rest], {
    cwd: call.releaseDir,
    env: call.env,
    logFile: call.logFile,
    as: call.as,
    ...(call.signal && { signal: call.signal }),
  });
  let requestExit: number | null | undefined;
  child.exited.then(
    (code) => {
      requestExit = code;
    },
    () => {
      requestExit = null;
    },
  );
  try {
    // Until the old process is gone; a request that failed (exit other than 0) will not make it go: stop waiting.
    while (
      isAlive(call.pid) &&
      performance.now() - started < timeoutMs &&
      !(requestExit !== undefined && requestExit !== 0)
    )
      await new Promise((resolve) => setTimeout(resolve, 100)); // polling the old process's exit
    const exited = !isAlive(call.pid);
    return exited || requestExit === undefined || requestExit === 0
      ? { exited }
      : { exited, refused: `the restart request exited ${requestExit ?? 'by a signal'}: ${said(call.logFile)}` };
  } finally {
    killProcessGroup(child.pid);
  }
}

/** What a refused request last printed (its log is under the root; the transaction should say why on its own). */
function said(logFile: string): string {
  try {
    return JSON.stringify(tail(readFileSync(logFile, 'utf8').trim(), 6));
  } catch {
    return '(no output)';
  }
}

/** Consume the handoff the exited gateway `pid` wrote: `accepted` only when it names that PID in external mode. */
export async function consumeHandoff(
  call: HandoffCall & { pid: number },
  commands: HandoffCommands,
): Promise<ConsumeResult> {
  const args = commands.consume.map((word) => word.replaceAll('{pid}', String(call.pid)));
  const { exitCode, json } = await machine(call, args);
  if (exitCode !== 0 || !json || json.ok !== true || json.protocol !== PROTOCOL || json.protocolVersion !== 1)
    return { status: 'failed', reason: `consume exited ${exitCode ?? 'by a signal'}: ${JSON.stringify(json ?? null)}` };
  if (json.status === 'accepted' && (json.handoff?.pid !== call.pid || json.handoff?.supervisorMode !== 'external'))
    return { status: 'failed', reason: 'the accepted handoff does not name the exited external gateway' };
  return {
    status: String(json.status),
    ...(typeof json.reason === 'string' && { reason: json.reason }),
    ...(json.handoff !== undefined && { handoff: json.handoff }),
  };
}
