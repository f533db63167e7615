/**
 * The environment a rehearsed candidate (and the target release's database check) starts with: the service's own
 * environment, as its running main process has it, under a few harmless basics of the caller's (PATH, HOME, the
 * locale), never the caller's whole environment. The caller may be a shell full of credentials, or the gateway's
 * own `update.run`: a candidate that runs untrusted new code has no business reading them. The rehearsal's own
 * `--preflight-env` values go on top (preflight.ts).
 */
import fs from 'node:fs/promises';

/** What the caller may pass: where programs are, whose home, which language and zone. Nothing that authenticates. */
const CALLER_BASICS = /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|TZ|TMPDIR|LC_[A-Z]+)$/;

/**
 * What a manager sets for one process only (systemd.exec "Environment variables in spawned processes", pm2's
 * ids, the IPC channel Node's fork gives a child, which pm2's fork mode uses): the running service's, not the
 * candidate's, and a candidate holding NOTIFY_SOCKET or LISTEN_FDS would talk to the live service's manager as if it
 * were that service. A Node started with NODE_CHANNEL_FD opens that descriptor as its parent's channel: the service's
 * migration run with pm2's value ended by a signal after its last line (seen in the demo).
 */
const PER_PROCESS =
  /^(INVOCATION_ID|NOTIFY_SOCKET|LISTEN_PID|LISTEN_FDS|LISTEN_FDNAMES|JOURNAL_STREAM|MANAGERPID|SYSTEMD_EXEC_PID|WATCHDOG_PID|WATCHDOG_USEC|MAINPID|SERVICE_RESULT|EXIT_CODE|EXIT_STATUS|MONITOR_.*|TRIGGER_.*|pm_id|NODE_APP_INSTANCE|NODE_CHANNEL_FD|NODE_CHANNEL_SERIALIZATION_MODE|NODE_UNIQUE_ID)$/;

export interface CandidateEnvironment {
  env: NodeJS.ProcessEnv;
  /** Where the service's part came from: `the service's process <pid>`, or why there is none. */
  from: string;
}

/** The basics of `callerEnv`, under the environment of the service's main process `servicePid` when it can be read. */
export async function candidateEnvironment(options: {
  callerEnv: NodeJS.ProcessEnv;
  servicePid: number | null;
}): Promise<CandidateEnvironment> {
  const basics = Object.fromEntries(Object.entries(options.callerEnv).filter(([key]) => CALLER_BASICS.test(key)));
  const { servicePid } = options;
  if (!servicePid || servicePid <= 1) return { env: basics, from: 'no running service (its basics only)' };
  const own = await processEnvironment(servicePid);
  if (!own) return { env: basics, from: `the service's process ${servicePid} could not be read (its basics only)` };
  return { env: { ...basics, ...withoutPerProcess(own) }, from: `the service's process ${servicePid}` };
}

/** An environment less what a manager gives one process only (PER_PROCESS). */
export function withoutPerProcess(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !PER_PROCESS.test(key)));
}

/** /proc/<pid>/environ as an object: what the process started with (Linux; elsewhere undefined). */
export async function processEnvironment(pid: number): Promise<Record<string, string> | undefined> {
  const text = await fs.readFile(`/proc/${pid}/environ`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const env: Record<string, string> = {};
  for (const entry of text.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}
