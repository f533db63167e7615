// Measuring helpers shared by the benchmarks: wall time + peak memory of a command and its whole
// process tree, disk usage that understands hardlinks, medians and percentiles, temp dirs.
//
// Why two memory figures: `npm install` does its work in several processes (npm itself, lifecycle
// scripts, node-gyp...). GNU time's %M is the ru_maxrss the kernel reports on wait4(): the largest
// RSS of any single process in the tree (it is a max, not a sum). Polling /proc gives the sum of the
// RSS of all processes alive at the same moment, which is what the machine actually had to hold
// (it over-counts pages shared between processes, e.g. the node binary's text, and can miss a spike
// shorter than the poll interval). We report both and say which is which.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
// Every benchmark measures through here: its `init`s as root then add to a list of the run's own, not the host's.
import './host-roots.mjs';

const GNU_TIME = '/usr/bin/time';
const HAS_GNU_TIME = fs.existsSync(GNU_TIME);
const PAGE_KIB = 4; // x86_64 Linux page size; /proc/<pid>/statm counts pages.

// Map pid -> ppid for every process, from /proc/<pid>/stat. The comm field can contain spaces and
// parentheses, so parse after the last ')'.
function readProcessTable() {
  const parents = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(name), Number(rest[1]));
    } catch {
      // The process exited between readdir and read: it simply is not part of this sample.
    }
  }
  return parents;
}

function descendantsOf(rootPid, parents) {
  const tree = new Set([rootPid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return tree;
}

function rssKiB(pid) {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE_KIB;
  } catch {
    return 0;
  }
}

// Poll the tree under rootPid; `exclude` drops the /usr/bin/time wrapper itself from the sum.
function startTreeSampler(rootPid, { intervalMs = 50, exclude = new Set() } = {}) {
  let peakSumKiB = 0;
  let peakProcesses = 0;
  const sample = () => {
    const tree = descendantsOf(rootPid, readProcessTable());
    let sum = 0;
    for (const pid of tree) if (!exclude.has(pid)) sum += rssKiB(pid);
    peakSumKiB = Math.max(peakSumKiB, sum);
    peakProcesses = Math.max(peakProcesses, tree.size - exclude.size);
  };
  const timer = setInterval(sample, intervalMs);
  sample();
  return () => {
    clearInterval(timer);
    return { peakSumKiB, peakProcesses };
  };
}

/**
 * Run a command, timing it and measuring its memory. Returns
 * {seconds, startedAtMs (wall clock at spawn), maxRssKiB (GNU time %M: largest single process in the tree, or null),
 *  peakTreeRssKiB (polled sum over the live tree), peakProcesses, stdout, stderr, exitCode}.
 * Throws (execa error) when the command fails, unless `reject: false`.
 */
export async function measure(file, args, { env = process.env, cwd, timeoutMs = 30 * 60_000, reject = true } = {}) {
  const timeOut = path.join(os.tmpdir(), `bench-time-${process.pid}-${Date.now()}`);
  const [cmd, cmdArgs] = HAS_GNU_TIME ? [GNU_TIME, ['-f', '%e %M', '-o', timeOut, file, ...args]] : [file, args];
  const startedAtMs = Date.now();
  const started = performance.now();
  const child = execa(cmd, cmdArgs, { env, cwd, timeout: timeoutMs, reject: false, extendEnv: false, all: false });
  const stop = startTreeSampler(child.pid, { exclude: HAS_GNU_TIME ? new Set([child.pid]) : new Set() });
  const result = await child;
  const seconds = (performance.now() - started) / 1000;
  const { peakSumKiB, peakProcesses } = stop();
  let maxRssKiB = null;
  if (HAS_GNU_TIME && fs.existsSync(timeOut)) {
    // GNU time writes "Command exited with non-zero status N" first on failure; the figures are last.
    const last = fs.readFileSync(timeOut, 'utf8').trim().split('\n').at(-1);
    maxRssKiB = Number(last.split(' ')[1]);
    fs.rmSync(timeOut, { force: true });
  }
  if (reject && (result.exitCode !== 0 || result.failed)) {
    const tail = (s) => s.split('\n').slice(-30).join('\n');
    throw new Error(
      `${file} ${args.join(' ')} failed (exit ${result.exitCode})\n${tail(result.stderr)}\n${tail(result.stdout)}`,
    );
  }
  return {
    seconds,
    startedAtMs,
    maxRssKiB,
    peakTreeRssKiB: peakSumKiB,
    peakProcesses,
    stdout: result.stdout,
    stderr: result.stderr,
    exitCode: result.exitCode,
  };
}

export async function duBytes(dir, { apparent = false, countLinks = false } = {}) {
  const args = ['-sb', ...(apparent ? ['--apparent-size'] : []), ...(countLinks ? ['-l'] : []), dir];
  const { stdout } = await execa('du', args, { timeout: 10 * 60_000 });
  return Number(stdout.split('\t')[0]);
}

// Regular files under dir as [{ino, size}], via lstat (symlinks are not followed, so a dependency's
// bin link is not counted as the file it points at).
export function listFiles(dir) {
  const files = [];
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop();
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) stack.push(full);
      else if (entry.isFile()) {
        const st = fs.lstatSync(full, { bigint: true });
        files.push({ ino: st.ino, size: Number(st.size), nlink: Number(st.nlink) });
      }
    }
  }
  return files;
}

/**
 * Disk cost of release `newDir` given the earlier release `oldDir`:
 * fullBytes  = sum of file sizes in newDir (what a plain copy would cost),
 * addedBytes = sum of sizes of distinct inodes in newDir that oldDir does not share,
 * sharedFiles / files: how many of newDir's files are hardlinks into oldDir.
 */
export function releaseDiskCost(oldDir, newDir) {
  const oldInodes = new Set(listFiles(oldDir).map((f) => f.ino));
  const seen = new Set();
  let fullBytes = 0;
  let addedBytes = 0;
  let sharedFiles = 0;
  const files = listFiles(newDir);
  for (const f of files) {
    fullBytes += f.size;
    if (oldInodes.has(f.ino)) sharedFiles++;
    else if (!seen.has(f.ino)) addedBytes += f.size;
    seen.add(f.ino);
  }
  return { files: files.length, sharedFiles, fullBytes, addedBytes };
}

/**
 * What a root's content-addressed store (<root>/store) holds: its files (each an inode it shares with the
 * releases that link it), their bytes, those of them no release or staging names any more (link count 1:
 * what the next prune collects), and its package indexes. The store's files are the releases' inodes, so
 * a root's du counts each once; only `unlinkedBytes` and `indexBytes` are disk the store adds of its own.
 */
export function storeHolding(root) {
  const out = { files: 0, bytes: 0, unlinkedFiles: 0, unlinkedBytes: 0, indexes: 0, indexBytes: 0 };
  const shards = (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir).map((s) => path.join(dir, s)) : []);
  for (const shard of shards(path.join(root, 'store', 'files'))) {
    for (const name of fs.readdirSync(shard)) {
      const st = fs.lstatSync(path.join(shard, name));
      if (!st.isFile()) continue;
      out.files++;
      out.bytes += st.size;
      if (st.nlink === 1) {
        out.unlinkedFiles++;
        out.unlinkedBytes += st.size;
      }
    }
  }
  for (const shard of shards(path.join(root, 'store', 'index'))) {
    for (const name of fs.readdirSync(shard)) {
      out.indexes++;
      out.indexBytes += fs.lstatSync(path.join(shard, name)).size;
    }
  }
  return out;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// Nearest-rank percentile (p in 0..100).
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function makeTempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `rs-bench-${prefix}-`));
}

// Sealed releases have no write bits; a non-root user cannot unlink inside them until the
// directories are writable again, so restore u+w on directories before removing.
export function removeTree(dir) {
  if (!fs.existsSync(dir)) return;
  // Sealed releases carry the immutable attribute where the file system has it (root on ext4).
  spawnSync('chattr', ['-R', '-f', '-i', dir], { stdio: 'ignore' });
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop();
    try {
      fs.chmodSync(current, 0o755);
      for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
        if (entry.isDirectory()) stack.push(path.join(current, entry.name));
      }
    } catch {
      // Best effort: rmSync below reports what really cannot be removed.
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

export const fmt = {
  s: (x) => `${x.toFixed(2)} s`,
  ms: (x) => `${x.toFixed(3)} ms`,
  mib: (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`,
  kibAsMib: (kib) => (kib == null || !Number.isFinite(kib) ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB`),
  ratio: (x) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a'),
};

export function goalMark(value, goal) {
  return Number.isFinite(value) ? (value <= goal ? `meets goal <= ${goal}` : `MISSES goal <= ${goal}`) : '';
}

// Saves a run's figures under .bench-cache/results so numbers can be compared across runs.
export function saveResult(cacheDir, name, data) {
  const dir = path.join(cacheDir, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}
