/**
 * Success as OpenClaw's external-supervisor contract defines it ("Report success only after the new Gateway owns its
 * listener and `/startupz` returns `status: "started"`; monitor `/readyz` separately"): which process owns the port's
 * listening socket (Linux: the socket inodes of /proc/net/tcp{,6} in LISTEN, against /proc/<pid>/fd), and what
 * `/readyz` says (docs/gateway/health.md: `{ready, failing}`, `failing` naming channel ids and subsystems such as
 * `agent-database:<id>` or `plugin-reload`), which transaction/contract-success.ts compares with what it said before.
 */
import fs from 'node:fs/promises';

export interface ListenerEvidence {
  /** Whether the main PID holds a listening socket on the port; null where it cannot be told (no /proc). */
  mainPidOwnsListener: boolean | null;
  /** `/readyz` beside the health URL: its HTTP status and body (cut), or the error. */
  readyz: { status: number | null; body?: unknown; error?: string };
}

const LISTEN = '0A';

async function listeningInodes(port: number): Promise<Set<string> | null> {
  const inodes = new Set<string>();
  let read = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await fs.readFile(file, 'utf8').catch(() => null);
    if (text === null) continue;
    read = true;
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (!local || cols[3] !== LISTEN) continue;
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port && cols[9]) inodes.add(cols[9]);
    }
  }
  return read ? inodes : null;
}

export async function ownsListener(pid: number, port: number): Promise<boolean | null> {
  const inodes = await listeningInodes(port);
  if (inodes === null) return null;
  const fds = await fs.readdir(`/proc/${pid}/fd`).catch(() => null);
  if (fds === null) return null;
  for (const fd of fds) {
    const target = await fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode && inodes.has(inode)) return true;
  }
  return false;
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

/** The evidence for a verified service: main PID and the port of its health URL. */
export async function listenerEvidence(options: { pid: number | null; healthUrl: string }): Promise<ListenerEvidence> {
  const url = new URL(options.healthUrl);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return {
    mainPidOwnsListener: options.pid === null ? null : await ownsListener(options.pid, port),
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
