// A file's tier is its name's (vitest.config.ts); here, that each file's tier has every part of the test bed the
// file uses (test/support/tiers.ts reads them from its source), so a plain `*.test.ts` is fast and needs nothing
// built or started; and that docs/testing.md's counts are the files'. `npm run docs:tiers` rewrites the counts.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BY_NODE,
  byNode,
  matches,
  NOT_BY_NODE,
  SHAPES,
  type Tier,
  TIER_SUFFIX,
  testFiles,
  tierOf,
} from '../vitest.config.ts';
import { HELPERS, tierProblems } from './support/tiers.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const COUNTS_BEGIN = '<!-- tier counts: `npm run docs:tiers` writes these lines from the file names -->';
const COUNTS_END = '<!-- /tier counts -->';
/** docs/testing.md's generated lines: each tier's files by name, and how many CI's Node 26 pass runs. */
function countsTable(files: string[], inNewestPass: (file: string, tier: Tier) => boolean): string {
  const rows = (Object.keys(TIER_SUFFIX) as Tier[]).map((tier) => {
    const mine = files.filter((file) => tierOf(file) === tier);
    const newest = mine.filter((file) => inNewestPass(file, tier)).length;
    return `| ${tier} | \`*${TIER_SUFFIX[tier]}\` | ${mine.length} | ${newest} |`;
  });
  const head = ["| tier | file name | files | of them in CI's Node 26 pass |", '|---|---|---|---|'];
  return [COUNTS_BEGIN, ...head, ...rows, `| all | | ${files.length} | |`, COUNTS_END].join('\n');
}
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

describe('each test file is in a tier that has what it uses', () => {
  it('every file under test/ (a problem names the file, the part, and the rename to the tier that has it)', () => {
    const files = testFiles();
    expect(files.length).toBeGreaterThan(150); // the walk found the suite, not an empty folder
    expect(files.flatMap((file) => tierProblems(file, tierOf(file), read(file)))).toEqual([]);
  });

  it('a name ends in a tier or in plain .test.ts: no other dotted ending, which would read as a tier and be unit', () => {
    const known = new Set(Object.values(TIER_SUFFIX).map((suffix) => suffix.split('.').at(-3)));
    const odd = testFiles().filter((file) => {
      const infix = path.basename(file).split('.').at(-3);
      return path.basename(file).split('.').length > 3 && !known.has(infix);
    });
    expect(odd).toEqual([]);
  });

  it('every helper the table names exists, with every export it names', () => {
    for (const [file, declared] of Object.entries(HELPERS)) {
      const text = read(file);
      for (const name of 'exports' in declared ? Object.keys(declared.exports) : []) {
        expect(text, `${file} exports ${name}`).toMatch(
          new RegExp(`export (async )?(function|const|class|let) ${name}\\b`),
        );
      }
    }
  });
});

describe('the check fails what it should, and passes its controls', () => {
  const problems = (file: string, source: string) => tierProblems(file, tierOf(file), source);

  it('a unit file that runs the built CLI, asks for the seeded Verdaccio, or imports dist/ goes to the registry tier', () => {
    const cli = problems('test/x/a.test.ts', "import { rs, tempDir } from '../support/cli.ts';\nrs('/r', ['list']);\n");
    expect(cli).toEqual([
      expect.stringMatching(
        /^test\/x\/a\.test\.ts is in the unit tier but uses the built package .*rs from test\/support\/cli\.ts \(line 1\).*move it to the registry tier: git mv test\/x\/a\.test\.ts test\/x\/a\.registry\.test\.ts$/,
      ),
    ]);
    expect(
      problems('test/x/a.test.ts', "import { inject } from 'vitest';\nconst url = inject('registryUrl');\n"),
    ).toEqual([expect.stringMatching(/the seeded Verdaccio .*inject\('registryUrl'\) \(line 2\).*the registry tier/)]);
    expect(problems('test/x/a.test.ts', "const m = new URL('../../dist/store/lock.js', import.meta.url);\n")).toEqual([
      expect.stringMatching(/the built package .*'\.\.\/\.\.\/dist\/store\/lock\.js'.*the registry tier/),
    ]);
    const joined = "const REPO = resolve(import.meta.dirname, '../..');\nconst CLI = join(REPO, 'dist/cli/main.js');\n";
    expect(problems('test/x/a.test.ts', joined)).toEqual([
      expect.stringMatching(/the built package .*join\(REPO, 'dist\/cli\/main\.js'\) \(line 2\).*the registry tier/),
    ]);
    // Through a helper that is not listed: store-fixtures.ts publishes through registry.ts and runs the CLI.
    expect(problems('test/x/a.test.ts', "import { installApp } from '../support/store-fixtures.ts';\n")).toEqual([
      expect.stringMatching(/through test\/support\/store-fixtures\.ts.*the registry tier/),
    ]);
  });

  it('a file that boots systemd, runs pm2, mounts, or sets chattr +i goes to the system tier, from unit or registry', () => {
    const systemd = "import { startUserManager } from '../support/systemd.ts';\n";
    expect(problems('test/x/a.registry.test.ts', systemd)).toEqual([
      expect.stringMatching(
        /a private systemd manager .*git mv test\/x\/a\.registry\.test\.ts test\/x\/a\.system\.test\.ts$/,
      ),
    ]);
    expect(problems('test/x/a.test.ts', "import { pm2Gateway } from '../support/pm2.ts';\n")).toEqual([
      expect.stringMatching(/uses pm2 .*the system tier/),
    ]);
    expect(problems('test/x/a.registry.test.ts', "execFileSync('mount', ['-t', 'tmpfs', 'x', dir]);\n")).toEqual([
      expect.stringMatching(/a root-only feature .*execFileSync\('mount'\) \(line 1\).*the system tier/),
    ]);
    expect(problems('test/x/a.test.ts', "import { canSetImmutable } from '../support/skip.ts';\n")).toEqual([
      expect.stringMatching(/a root-only feature .*canSetImmutable from test\/support\/skip\.ts.*the system tier/),
    ]);
    expect(problems('test/x/a.test.ts', "import { account } from '../support/accounts.ts';\n")).toEqual([
      expect.stringMatching(/the test accounts .*the registry tier/),
    ]);
  });

  it('the real gateway is the openclaw tier only, which has no seeded Verdaccio: a file that needs both is split', () => {
    const gateway = "import { openclawBench } from '../support/openclaw.ts';\n";
    expect(problems('test/x/a.system.test.ts', gateway)).toEqual([expect.stringMatching(/the openclaw tier/)]);
    expect(problems('test/x/a.openclaw.test.ts', gateway)).toEqual([]);
    expect(problems('test/x/a.openclaw.test.ts', `${gateway}const url = inject('registryUrl');\n`)).toEqual([
      expect.stringMatching(/which its runs lack: no tier has all of .*split the file$/),
    ]);
  });

  it('controls: a temp folder, types only, the pure exports of mixed helpers, data that mentions dist/ or systemctl', () => {
    const light = [
      "import { tempDir } from '../support/cli.ts';",
      "import type { UserManager } from '../support/systemd.ts';",
      "import { type Account } from '../support/accounts.ts';",
      "import { freePort } from '../support/service.ts';",
      "import { describeWhere, onLinux } from '../support/skip.ts';",
      "import { pm2StateOf } from '../../src/service/supervisors/pm2.ts';",
      "const unit = { entry: 'dist/index.js', exec: '/usr/bin/systemctl restart x' };",
      "spawnSync('sh', ['-c', 'systemctl --user start x']);",
      "const pkg = tempDir();\nwriteFileSync(path.join(pkg, 'dist', 'index.js'), '');",
      "const up = resolve(import.meta.dirname, '..', 'dist');",
    ].join('\n');
    expect(problems('test/x/a.test.ts', light)).toEqual([]);
  });
});

describe("CI's Node 26 pass: the files whose behaviour depends on Node", () => {
  it('a folder BY_NODE names brings its files, less those NOT_BY_NODE names; every entry has its reason and a file', () => {
    const files = testFiles();
    expect(byNode('test/stage/fast.registry.test.ts'), "staging's scripts run on the service's Node").toBe(true);
    expect(byNode('test/stage/a-new-file.registry.test.ts'), 'a new file under a BY_NODE folder joins by itself').toBe(
      true,
    );
    expect(byNode('test/stage/store.registry.test.ts'), 'the store is the file system').toBe(false);
    expect(byNode('test/stage/store-immutable.system.test.ts'), 'the store is the file system').toBe(false);
    expect(byNode('test/store/lock.registry.test.ts'), 'locking judges the file system').toBe(false);
    for (const [glob, reason] of [...Object.entries(BY_NODE), ...Object.entries(NOT_BY_NODE)]) {
      expect(reason.length, `${glob}: its reason`).toBeGreaterThan(20);
      expect(files.filter((file) => matches(glob, file)).length, `${glob} matches a file`).toBeGreaterThan(0);
    }
  });
});

describe("docs/testing.md's counts", () => {
  it("are the files' (each tier, and how many of them CI's Node 26 pass runs): `npm run docs:tiers` writes them", () => {
    const files = testFiles();
    const newest = (file: string, tier: Tier) =>
      tier === 'unit' || (tier === 'openclaw' ? SHAPES.some((glob) => matches(glob, file)) : byNode(file));
    const table = countsTable(files, newest);
    const doc = read('docs/testing.md');
    const [before, rest] = doc.split(COUNTS_BEGIN);
    const [written, after] = rest?.split(COUNTS_END) ?? [];
    expect(after, `docs/testing.md has the lines ${COUNTS_BEGIN} … ${COUNTS_END}`).toBeDefined();
    // `npm run docs:tiers` sets it: then the lines are written rather than compared.
    if (process.env.RS_WRITE_TIER_COUNTS === '1')
      writeFileSync(path.join(ROOT, 'docs/testing.md'), `${before}${table}${after}`);
    else expect(`${COUNTS_BEGIN}${written}${COUNTS_END}`, 'docs/testing.md: run `npm run docs:tiers`').toBe(table);
  });
});
