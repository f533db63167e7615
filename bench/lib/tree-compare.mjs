// Exactness of a staged release against npm's own install of the same spec (issue 9, item 7): every path
// of both trees with its type, its mode's read/execute bits and its content's sha256 (or a symlink's
// target). Left out on both sides: the release marker and npm's hidden lockfile, which only one side
// writes. The test suite checks the same on the fixtures (test/stage/fast.registry.test.ts, treeOf).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const ONE_SIDED = new Set(['.release-switcher.json', 'node_modules/.package-lock.json']);

/** rel → 'dir' | '-> target' | '<mode> <sha256>' for every entry below `dir`. */
export function treeListing(dir, rel = '', out = new Map()) {
  for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    if (ONE_SIDED.has(p)) continue;
    const abs = path.join(dir, p);
    const st = fs.lstatSync(abs);
    if (st.isSymbolicLink()) out.set(p, `-> ${fs.readlinkSync(abs)}`);
    else if (st.isDirectory()) {
      out.set(p, 'dir');
      treeListing(dir, p, out);
    } else
      out.set(p, `${(st.mode & 0o555).toString(8)} ${createHash('sha256').update(fs.readFileSync(abs)).digest('hex')}`);
  }
  return out;
}

/** The paths where two trees differ (only in one, or different there), sorted; empty when they are equal. */
export function compareTrees(ours, theirs) {
  const a = treeListing(ours);
  const b = treeListing(theirs);
  const differences = [];
  for (const [p, v] of a) if (b.get(p) !== v) differences.push(`${p}: ours ${v}, npm's ${b.get(p) ?? 'absent'}`);
  for (const p of b.keys()) if (!a.has(p)) differences.push(`${p}: ours absent, npm's ${b.get(p)}`);
  return { entries: a.size, differences: differences.sort() };
}
