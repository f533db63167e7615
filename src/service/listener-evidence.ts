/**
 * Success as OpenClaw's external-supervisor contract defines it ("Report success only after the new Gateway owns its
 * listener and `/startupz` returns `status: "started"`; monitor `/readyz` separately"): which process owns the port's
 * listening socket (Linux: the socket inodes of /proc/net/tcp{,6} in LISTEN, against /proc/<pid>/fd), and what
 * `/readyz` says (docs/gateway/health.md: `{ready, failing}`, `failing` naming channel ids and subsystems such as
 * `agent-database:<id>` or `plugin-reload`), which transaction/contract-success.ts compares with what it said before.
 */
import { proveListener } from './listener-owner.js';
import type { ServiceProcesses } from './supervisors/types.js';

export interface ListenerEvidence {
  /** Whether the main PID (its process tree, its unit) holds the health URL's listener; null where it cannot be told (no /proc). */
  mainPidOwnsListener: boolean | null;
  /** `/readyz` beside the health URL: its HTTP status and body (cut), or the error. */
  readyz: { status: number | null; body?: unknown; error?: string };
}

/**
 * Whether `processes` (or the process `pid` and its descendants) hold the listener of every address of `healthUrl`
 * a probe may connect to: listener-owner.ts's rule, the exact address and family, not the port number alone (a
 * `localhost` URL, the gateway on 127.0.0.1 and another account on [::1], is not the gateway's). null: cannot be
 * told here (no /proc).
 */
export async function ownsListener(
  pid: number,
  healthUrl: string,
  processes?: ServiceProcesses,
): Promise<boolean | null> {
  const proof = await proveListener(healthUrl, processes ?? { pids: [pid] });
  if (proof.unknown) return null;
  return proof.address !== null && proof.strangers.length === 0;
}

/** `/readyz` beside the health URL: its status and body, or why there was no answer. */
export async function readyz(healthUrl: string): Promise<ListenerEvidence['readyz']> {
  const url = new URL('/readyz', healthUrl);
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    const text = (await response.text()).slice(0, 2_000);
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: response.status, body };
  } catch (error) {
    return { status: null, error: (error as Error).message };
  }
}

/** The evidence for a verified service: its main PID (and the processes its supervisor names) and its health URL. */
export async function listenerEvidence(options: {
  pid: number | null;
  healthUrl: string;
  processes?: ServiceProcesses | undefined;
}): Promise<ListenerEvidence> {
  return {
    mainPidOwnsListener:
      options.pid === null ? null : await ownsListener(options.pid, options.healthUrl, options.processes),
    readyz: await readyzAnswered(options.healthUrl),
  };
}

/**
 * `/readyz`, asked again while it gives no answer at all: a gateway busy loading its plugins right after its start may
 * answer one request late (seen: 5 s without an answer on a loaded machine) without having lost anything.
 */
async function readyzAnswered(healthUrl: string, attempts = 3): Promise<ListenerEvidence['readyz']> {
  for (let attempt = 1; ; attempt++) {
    const answer = await readyz(healthUrl);
    if (answer.status !== null || attempt >= attempts) return answer;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/** What `/readyz` names as not ready (an empty list when it is ready), or null when it gave no such answer. */
export function notReady(answer: ListenerEvidence['readyz']): string[] | null {
  const body = answer.body as { ready?: unknown; failing?: unknown } | undefined;
  if (answer.status === null || body === null || typeof body !== 'object') return null;
  if (Array.isArray(body.failing)) return body.failing.filter((f): f is string => typeof f === 'string');
  return body.ready === true ? [] : null;
}
