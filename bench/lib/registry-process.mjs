// Starts a bench registry script (fixture-registry.mjs, realdeps-registry.mjs) in its own process, so that
// serving tarballs never shares an event loop with the timing code. The script prints its URL as its
// first stdout line and stops on SIGTERM.

import readline from 'node:readline';
import { execa } from 'execa';

export async function startRegistryProcess(script, args = []) {
  const child = execa(process.execPath, [script, ...args], { stdout: 'pipe', stderr: 'inherit', reject: false });
  const lines = readline.createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    lines.once('line', resolve);
    child.then((r) => reject(new Error(`${script} exited (${r.exitCode}) before it was ready`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}
