/**
 * Deterministic fault injection for the crash tests: when the armed point is reached the process
 * SIGKILLs itself (a real kill, no cleanup, no finally blocks), exactly as a power cut or OOM kill would
 * leave it. Armed by the CLI from RELEASE_SWITCHER_CRASH_AT; never armed in normal use.
 */
let armed: string | undefined;

export function armCrashPoint(name: string | undefined): void {
  armed = name || undefined;
}

export function crashPoint(name: string): void {
  if (armed !== undefined && armed === name) process.kill(process.pid, 'SIGKILL');
}

/** Every crash point the code defines, so tests can prove each one is reachable. */
export const CRASH_POINTS = [
  'install:begin',
  'install:extracted',
  'install:deps-installed',
  'install:sealed',
  'install:renamed',
  'install:done',
  'activate:begin',
  'activate:verified-release',
  'activate:preflight-running',
  'activate:previous-flipped',
  'activate:current-flipped',
  'activate:done',
  'rollback:begin',
  'flip-back:current-flipped',
  'rollback:flipped',
  'rollback:restarted',
  'prune:begin',
  'prune:moved',
  'prune:done',
  'store:file-added',
  'store:index-written',
  'store-gc:file-removed',
  'store-gc:index-removed',
  'recover:begin',
  'lock:claimed',
  'lock:release-claimed',
  'restore:begin',
  'restore:partial',
  'restore:swap-out',
  'restore:swap-in',
  // Finalize done ahead (snapshot/ahead-account.ts): between a live entry moved aside and the finalized one moved in.
  'ahead:swap-between',
] as const;
export type CrashPointName = (typeof CRASH_POINTS)[number];

/** The crash point armed in this process, for a worker it starts to arm the same (snapshot/state-side.ts). */
export function armedCrashPoint(): string | undefined {
  return armed;
}
