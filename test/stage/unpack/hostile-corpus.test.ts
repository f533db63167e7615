// The generated hostile-tarball corpus (test/support/hostile-corpus.ts) through the one-pass unpacker, and
// (hostile-corpus-cli.registry.test.ts) a sample of it end to end through `install` of the built CLI. Every case is refused (BAD_TARBALL, for the
// reason it was built for, nothing left) or harmless and contained (exactly the paths it names, npm's modes,
// every link resolving inside); either way nothing outside the destination changes: a 0600 file, a 0700
// directory and its 0600 file keep their bytes, modes, inodes and times, and no name appears anywhere near.
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unpackTarball } from '../../../src/stage/unpack/unpack.ts';
import { type CorpusCase, encodeCase, hostileCorpus } from '../../support/hostile-corpus.ts';

import { plantSentinels, snapshot } from '../../support/sentinels.ts';

/**
 * Resolve the symlink at `rel` against what is on disk below `dest`, link by link (a missing name is taken
 * lexically, as a later write could create it): the segments it lands on, or undefined when it leaves.
 */
function resolveOnDisk(dest: string, rel: string): string[] | undefined {
  const current = rel.split('/').slice(0, -1);
  const queue = readlinkSync(join(dest, rel)).split('/');
  if (queue[0] === '') return undefined; // absolute
  let hops = 0;
  while (queue.length > 0) {
    const segment = queue.shift()!;
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (current.length === 0) return undefined;
      current.pop();
      continue;
    }
    current.push(segment);
    let stat: ReturnType<typeof lstatSync> | undefined;
    try {
      stat = lstatSync(join(dest, ...current));
    } catch {
      stat = undefined;
    }
    if (!stat?.isSymbolicLink()) continue;
    const next = readlinkSync(join(dest, ...current));
    if (next.startsWith('/') || ++hops > 40) return undefined;
    current.pop();
    queue.unshift(...next.split('/'));
  }
  return current;
}

/** What a contained unpack wrote: paths, and a problem for anything not as npm would write it. */
function inspectWritten(dest: string): { paths: string[]; problems: string[] } {
  const paths: string[] = [];
  const problems: string[] = [];
  const visit = (rel: string) => {
    for (const name of readdirSync(join(dest, rel))) {
      const child = rel === '' ? name : `${rel}/${name}`;
      paths.push(child);
      const s = lstatSync(join(dest, child));
      const mode = s.mode & 0o7777;
      if (s.isSymbolicLink()) {
        if (resolveOnDisk(dest, child) === undefined)
          problems.push(`${child} -> ${readlinkSync(join(dest, child))} leaves the destination`);
      } else if (s.isDirectory()) {
        if (mode !== 0o755) problems.push(`${child}: directory mode ${mode.toString(8)}`);
        visit(child);
      } else if (s.isFile()) {
        if (mode !== 0o644 && mode !== 0o755) problems.push(`${child}: file mode ${mode.toString(8)}`);
        if (s.nlink !== 1) problems.push(`${child}: ${s.nlink} links`);
      } else problems.push(`${child}: neither file, directory nor symlink`);
    }
  };
  visit('');
  return { paths: paths.sort(), problems };
}

// ---------------------------------------------------------------------------------------------------------

const top = mkdtempSync(join(tmpdir(), 'rs-corpus-'));
afterAll(() => rmSync(top, { recursive: true, force: true }));
const outside = join(top, 'outside');
// Deep, so a short climb out of the destination still lands inside `top`, where the snapshot sees it.
const dest = join(top, 'a', 'b', 'c', 'd', 'dest');
const tarball = join(top, 'case.tgz');
plantSentinels(outside);
mkdirSync(dirname(dest), { recursive: true });
const notOurs = (path: string) => path === dest || path === tarball;
const before = snapshot(top, notOurs);
const corpus = hostileCorpus({ outside });

describe('the generated hostile corpus', () => {
  it('has at least 50 distinct tarballs, covering every family, both outcomes', () => {
    const ids = corpus.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    const bytes = new Set(corpus.map((c) => encodeCase(c).toString('base64')));
    expect(bytes.size).toBe(corpus.length);
    expect(corpus.length).toBeGreaterThanOrEqual(50);
    const families = new Set(corpus.map((c) => c.family));
    expect([...families].sort()).toEqual(['duplicates', 'global', 'headers', 'links', 'names', 'type-flags']);
    for (const family of families)
      expect(corpus.filter((c) => c.family === family).length, family).toBeGreaterThanOrEqual(6);
    const refused = corpus.filter((c) => c.expect === 'refuse').length;
    console.log(
      `hostile corpus: ${corpus.length} tarballs, ${refused} to be refused, ${corpus.length - refused} harmless and contained`,
    );
  });
});

describe.each(['names', 'global', 'type-flags', 'links', 'duplicates', 'headers'])('hostile corpus: %s', (family) => {
  it.each(corpus.filter((c) => c.family === family).map((c) => [c.id, c] as const))(
    '%s',
    async (_id, c: CorpusCase) => {
      writeFileSync(tarball, encodeCase(c));
      try {
        const outcome = await unpackTarball({ source: tarball, dest, strip: 1 }).then(
          () => undefined,
          (error: unknown) => error as Error & { code?: string },
        );
        if (c.expect === 'refuse') {
          expect(outcome?.code, `${c.id} must be refused: ${outcome?.stack ?? 'it was unpacked'}`).toBe('BAD_TARBALL');
          expect(outcome!.message).toMatch(c.why!);
          expect(lstatSafe(dest), 'nothing left where it unpacked').toBeUndefined();
        } else {
          expect(outcome, `${c.id} is harmless and unpacks`).toBeUndefined();
          const { paths, problems } = inspectWritten(dest);
          expect(problems).toEqual([]);
          expect(paths).toEqual(c.written);
          for (const [rel, text] of Object.entries(c.contents ?? {}))
            expect(readFileSync(join(dest, rel), 'utf8')).toBe(text);
        }
        expect(snapshot(top, notOurs), 'nothing outside the destination changed').toEqual(before);
      } finally {
        rmSync(dest, { recursive: true, force: true });
        rmSync(tarball, { force: true });
      }
    },
  );
});

function lstatSafe(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
