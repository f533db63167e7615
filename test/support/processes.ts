// Watching processes a test started end: alive (not a zombie), a bounded poll, and a smoke check with a grandchild.
import { readFileSync } from 'node:fs';

/** Alive and not a zombie waiting for its reaper. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Poll `fn` every 20 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function until(what: string, fn: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A smoke check that starts a grandchild (sleep 30), writes both pids to $RS_TEST_PIDS, and never ends by itself. */
export const SMOKE_WITH_GRANDCHILD =
  "-e c=require('child_process').spawn('sleep',['30']);require('fs').writeFileSync(process.env.RS_TEST_PIDS,process.pid+','+c.pid);setInterval(()=>{},1e3)";
