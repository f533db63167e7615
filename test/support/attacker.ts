// What another account of the host sees of a victim's, with its own rights only (setpriv as that account): every
// process's command line while something runs, and every file it can read under a folder.
import { spawn, spawnSync } from 'node:child_process';
import { expect } from 'vitest';
import { type Account, asAccount, nodeFor } from './accounts.ts';

/**
 * The scan of /proc: every command line of every process, as fast as it can, until its stdin closes; it
 * prints the distinct ones. Plain Node, the account's own rights.
 */
const SCAN = `
const fs = require('node:fs');
const seen = new Set();
let open = true;
process.stdin.on('end', () => { open = false; }).resume();
(async () => {
  while (open) {
    for (const pid of fs.readdirSync('/proc')) {
      if (!/^\\d+$/.test(pid) || pid === String(process.pid)) continue;
      try { seen.add(fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\\0').join(' ')); } catch {}
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  process.stdout.write(JSON.stringify([...seen]));
})();`;

/** The read of everything under `dirs` it can: each file it could read, and its text. */
const READ_ALL = `
const fs = require('node:fs'), path = require('node:path');
const out = [];
const walk = (dir) => {
  let entries;
  try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
  for (const e of entries) {
    const file = path.join(dir, e.name);
    if (e.isDirectory()) walk(file);
    else if (e.isFile()) { try { out.push({ file, text: fs.readFileSync(file).toString('latin1') }); } catch {} }
  }
};
for (const dir of process.argv.slice(1)) walk(dir);
process.stdout.write(JSON.stringify(out));`;

function asAttacker(who: Account, args: string[]) {
  const [file, argv] = asAccount(who, nodeFor(who, process.execPath), args);
  return { file, argv, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } };
}

/** Start `who`'s scan of /proc; `stop()` ends it and gives the distinct command lines it read. */
export function scanCommandLines(who: Account): { stop(): Promise<string[]> } {
  const { file, argv, env } = asAttacker(who, ['-e', SCAN]);
  const child = spawn(file, argv, { env, cwd: '/', stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const ended = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    async stop() {
      child.stdin.end();
      await ended;
      return JSON.parse(out) as string[];
    },
  };
}

/** The files under `dir` that `who` can read, and those of them that hold one of `secrets`. */
export function readsAs(who: Account, dir: string, secrets: string[]) {
  const { file, argv, env } = asAttacker(who, ['-e', READ_ALL, dir]);
  const read = spawnSync(file, argv, { env, cwd: '/', encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  expect(read.status, read.stderr).toBe(0);
  const files = JSON.parse(read.stdout) as { file: string; text: string }[];
  return { files: files.map((f) => f.file), leaks: files.filter((f) => secrets.some((s) => f.text.includes(s))) };
}
