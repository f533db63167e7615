// Which parts of the test bed a test file uses, read from its source: what it imports from the helpers (test/support,
// bench/lib, dist/), the values it asks the global setup for (`inject`), and the commands it starts by name. A file's
// tier is its name's (vitest.config.ts: `tierOf`); test/tiers.test.ts fails a file that uses a part its tier lacks,
// so the default tier (a plain `*.test.ts`: unit) holds only files that use none of them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { TIER_SUFFIX, type Tier } from '../../vitest.config.ts';

export interface Part {
  name: string;
  /** The tiers whose runs have it. */
  in: readonly Tier[];
}
const HEAVY: Tier[] = ['registry', 'system', 'openclaw'];
const SEEDED: Part = { name: 'the seeded Verdaccio (the global setup, `inject`)', in: ['registry', 'system'] };
const VERDACCIO: Part = { name: 'a Verdaccio of its own', in: HEAVY };
const BUILT: Part = { name: 'the built package (dist/, `npm run build`)', in: HEAVY };
const ACCOUNTS: Part = { name: 'the test accounts (useradd, runuser; root)', in: HEAVY };
const NODE_FETCH: Part = { name: 'a Node fetched from the npm registry', in: HEAVY };
const SYSTEMD: Part = { name: 'a private systemd manager (the harness)', in: ['system', 'openclaw'] };
const PM2: Part = { name: 'pm2', in: ['system', 'openclaw'] };
const ROOT_ONLY: Part = { name: 'a root-only feature (chattr +i, a mount, a namespace)', in: ['system', 'openclaw'] };
const GATEWAY: Part = { name: 'the real openclaw package', in: ['openclaw'] };
// Python and Ansible's tools from the machine (apt): tens of seconds of another runtime's start-up per call, and
// nothing in them depends on Node, so they run once per CI run (the system tier's Node 20 pass), not in the fast loop
// that both passes repeat.
const MACHINE_TOOLS: Part = { name: "Python and Ansible's tools (python3, ansible-*)", in: ['system', 'openclaw'] };
export const PARTS = [SEEDED, VERDACCIO, BUILT, ACCOUNTS, NODE_FETCH, SYSTEMD, PM2, ROOT_ONLY, GATEWAY, MACHINE_TOOLS];

/** A helper whose exports differ: the listed ones need the part given (null: none), every other one `others`. */
interface Mixed {
  exports: Record<string, Part | null>;
  others: Part | null;
}
/**
 * Where each part lives. A helper not named here needs what it imports (whole, transitively): a new helper that
 * publishes through registry.ts needs the registry without being listed. Named here: where a part starts, and the
 * helpers that mix a light export with heavy ones.
 */
export const HELPERS: Record<string, Part | Mixed> = {
  'test/support/registry.ts': VERDACCIO,
  // A temp folder (as root, owned by the default test account, which it makes once): no CLI, nothing runs as it.
  // cliEnv: the environment a library call is given (a temp npm home, the run's list of roots), no CLI run.
  'test/support/cli.ts': { exports: { tempDir: null, cliEnv: null }, others: BUILT },
  // runThisFileAsRoot says the file acts as root in-process (an environment variable, a line): no account is made.
  'test/support/accounts.ts': { exports: { runThisFileAsRoot: null }, others: ACCOUNTS },
  'test/support/systemd.ts': SYSTEMD,
  'test/support/systemd-handle.ts': SYSTEMD,
  'test/support/systemd-home.ts': SYSTEMD,
  'test/support/systemd-cleanup.ts': SYSTEMD,
  'test/support/system-manager.ts': SYSTEMD,
  'test/support/system-manager-handle.ts': SYSTEMD,
  'test/support/system-manager-client.ts': SYSTEMD,
  // managedGateway and its readers drive a unit through the harness; freePort is a socket on 127.0.0.1.
  'test/support/service.ts': { exports: { freePort: null }, others: SYSTEMD },
  'test/support/pm2.ts': PM2,
  // canSetImmutable probes chattr +i (root on ext4); the rest says why a case is skipped.
  'test/support/skip.ts': { exports: { canSetImmutable: ROOT_ONLY }, others: null },
  'test/support/openclaw.ts': GATEWAY,
  'test/support/openclaw-prepared.ts': GATEWAY,
  'test/support/openclaw-repack.ts': GATEWAY,
  'test/support/openclaw-shapes.ts': GATEWAY,
  'bench/lib/node24.mjs': NODE_FETCH,
  // The demo: the built CLI under a real pm2 daemon (test/demo runs it by its path).
  'scripts/demo.mjs': PM2,
  // The pm2 adapter starts a real daemon; its readers are pure.
  'src/service/supervisors/pm2.ts': { exports: { pm2Supervisor: PM2 }, others: null },
};
const PACKAGES: Record<string, Part> = { verdaccio: VERDACCIO, pm2: PM2 };
/** Commands started by name (spawn, execa, execFile… with a literal first argument). */
const COMMANDS: Record<string, Part> = {
  systemctl: SYSTEMD,
  'systemd-run': SYSTEMD,
  '/usr/lib/systemd/systemd': SYSTEMD,
  pm2: PM2,
  runuser: ACCOUNTS,
  useradd: ACCOUNTS,
  userdel: ACCOUNTS,
  mount: ROOT_ONLY,
  umount: ROOT_ONLY,
  unshare: ROOT_ONLY,
  nsenter: ROOT_ONLY,
  python3: MACHINE_TOOLS,
  'ansible-galaxy': MACHINE_TOOLS,
  'ansible-playbook': MACHINE_TOOLS,
  'ansible-lint': MACHINE_TOOLS,
  'ansible-doc': MACHINE_TOOLS,
};
const STARTERS = new Set(['spawn', 'spawnSync', 'execa', 'execaSync', 'execFile', 'execFileSync', 'exec', 'execSync']);

/** A part and the line of the file that uses it. */
export interface Use {
  part: Part;
  why: string;
}

const ROOT = path.resolve(import.meta.dirname, '../..');
const rel = (file: string) => path.relative(ROOT, file).split(path.sep).join('/');

/** What an unlisted helper uses, read once per run (a helper in an import circle counts once). */
const helperUses = new Map<string, Use[]>();
function usesOfHelper(target: string): Use[] {
  const known = helperUses.get(target);
  if (known) return known;
  helperUses.set(target, []);
  let text: string;
  try {
    text = readFileSync(path.join(ROOT, target), 'utf8');
  } catch {
    return []; // not a file of ours (a package's subpath): nothing of the bed
  }
  const uses = usesIn(target, text);
  helperUses.set(target, uses);
  return uses;
}

/** The parts a module's source uses. `file`: its path from the repository's root (for resolving its imports). */
export function usesIn(file: string, source: string): Use[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const uses: Use[] = [];
  const line = (node: ts.Node) => `line ${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`;
  const add = (part: Part | null | undefined, why: string) => {
    if (part) uses.push({ part, why });
  };
  const imported = (spec: string, names: string[] | 'all', at: ts.Node) => {
    if (!spec.startsWith('.')) {
      add(PACKAGES[spec], `imports ${spec} (${line(at)})`);
      return;
    }
    const target = rel(path.resolve(ROOT, path.dirname(file), spec));
    if (/(^|\/)dist\//.test(target)) return add(BUILT, `imports ${target} (${line(at)})`);
    const declared = HELPERS[target];
    if (declared && 'exports' in declared) {
      // Each part with the names that bring it: `rs from test/support/cli.ts`, never the light tempDir beside it.
      const partOf = (n: string) => (n in declared.exports ? declared.exports[n] : declared.others);
      const all = [...Object.keys(declared.exports), '*'];
      for (const n of names === 'all' ? all : names) {
        const part = n === '*' ? declared.others : partOf(n);
        const by = (names === 'all' ? all : names).filter((m) => (m === '*' ? declared.others : partOf(m)) === part);
        if (by[0] === n) add(part, `${by.join(', ')} from ${target} (${line(at)})`);
      }
    } else if (declared) add(declared, `imports ${target} (${line(at)})`);
    else if (/^(test|bench|scripts)\//.test(target)) {
      // An unlisted helper: what it uses, its users use.
      for (const use of usesOfHelper(target)) add(use.part, `${use.why} through ${target}`);
    }
  };
  /** A path written in the file: relative to it, into dist/ or to a listed helper; or the package by its name. */
  const literal = (text: string, at: ts.Node) => {
    if (/^\.\.?\//.test(text)) {
      const target = rel(path.resolve(ROOT, path.dirname(file), text));
      if (/^dist(\/|$)/.test(target)) add(BUILT, `'${text}' (${line(at)})`);
      const declared = HELPERS[target];
      if (declared && !('exports' in declared)) add(declared, `'${text}' (${line(at)})`);
    }
    // The built package as a user imports it (package.json `exports`, a self-reference), in a child's script.
    if (/(\bfrom\s*|\bimport\(\s*)['"]release-switcher(\/[\w-]+)?['"]/.test(text))
      add(BUILT, `imports release-switcher (${line(at)})`);
  };
  // The file's constants, for the paths it joins: `const REPO = resolve(import.meta.dirname, '../..')`.
  const constants = new Map<string, ts.Expression>();
  const collect = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
      constants.set(node.name.text, node.initializer);
    }
    ts.forEachChild(node, collect);
  };
  collect(sf);
  /** The absolute path an expression names, when the file fixes it: literals, import.meta.dirname, cwd, join. */
  const pathOf = (expr: ts.Expression, depth = 0): string | undefined => {
    if (depth > 8) return undefined;
    if (ts.isStringLiteralLike(expr)) return expr.text;
    const text = expr.getText(sf);
    if (text === 'import.meta.dirname') return path.resolve(ROOT, path.dirname(file));
    if (text === 'process.cwd()') return ROOT;
    if (ts.isIdentifier(expr)) {
      const value = constants.get(expr.text);
      return value ? pathOf(value, depth + 1) : undefined;
    }
    if (ts.isCallExpression(expr) && /(^|\.)(join|resolve)$/.test(expr.expression.getText(sf))) {
      const parts = expr.arguments.map((a) => pathOf(a, depth + 1));
      if (parts.length === 0 || parts.some((p) => p === undefined) || !path.isAbsolute(parts[0]!)) return undefined;
      return path.resolve(...(parts as string[]));
    }
    return undefined;
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && !node.importClause?.isTypeOnly) {
      const clause = node.importClause;
      const bindings = clause?.namedBindings;
      const named = bindings && ts.isNamedImports(bindings);
      const names = named
        ? bindings.elements.filter((e) => !e.isTypeOnly).map((e) => (e.propertyName ?? e.name).text)
        : [];
      if (!clause || clause.name || (bindings && !named)) imported(node.moduleSpecifier.text, 'all', node);
      else if (names.length > 0) imported(node.moduleSpecifier.text, names, node);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      imported(node.moduleSpecifier.text, 'all', node);
    } else if (
      ts.isStringLiteralLike(node) &&
      !ts.isLiteralTypeNode(node.parent) &&
      !ts.isImportDeclaration(node.parent) &&
      !ts.isExportDeclaration(node.parent)
    ) {
      literal(node.text, node);
    } else if (ts.isTemplateExpression(node)) {
      for (const piece of [node.head, ...node.templateSpans.map((span) => span.literal)]) literal(piece.text, node);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression.getText(sf);
      const [first] = node.arguments;
      if (node.expression.kind === ts.SyntaxKind.ImportKeyword && first) {
        if (ts.isStringLiteralLike(first)) imported(first.text, 'all', node);
        else if (/\bdist\//.test(first.getText(sf))) add(BUILT, `import(${first.getText(sf)}) (${line(node)})`);
      } else if (callee === 'inject') add(SEEDED, `inject(${first?.getText(sf) ?? ''}) (${line(node)})`);
      else if (STARTERS.has(callee) && first && ts.isStringLiteralLike(first)) {
        add(COMMANDS[first.text], `${callee}('${first.text}') (${line(node)})`);
      } else if (/(^|\.)(join|resolve)$/.test(callee)) {
        // A path into the checkout's dist/ put together from pieces this file fixes (REPO = resolve(dirname, '../..')).
        const target = pathOf(node);
        if (target && /^dist(\/|$)/.test(rel(target))) add(BUILT, `${node.getText(sf).slice(0, 60)} (${line(node)})`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return uses;
}

/** The lightest tier whose runs have every part used (tiers in TIER_SUFFIX's order), or none. */
export function lightestFor(parts: Iterable<Part>): Tier | undefined {
  const needed = [...parts];
  return (Object.keys(TIER_SUFFIX) as Tier[]).find((tier) => needed.every((p) => p.in.includes(tier)));
}

/** `dir/name.registry.test.ts` as it is named in `tier`. */
export function renamedFor(file: string, tier: Tier): string {
  const base = file.replace(/(\.(registry|system|openclaw))?\.test\.ts$/, '');
  return `${base}${TIER_SUFFIX[tier]}`;
}

/** What is wrong with `file` in `tier`, given its source: each a sentence naming the file, the part and the tier. */
export function tierProblems(file: string, tier: Tier, source: string): string[] {
  const uses = usesIn(file, source);
  const missing = uses.filter((u) => !u.part.in.includes(tier));
  if (missing.length === 0) return [];
  const target = lightestFor(uses.map((u) => u.part));
  const what = [...new Set(missing.map((u) => u.part))].map(
    (part) => `${part.name} (${[...new Set(missing.filter((u) => u.part === part).map((u) => u.why))].join('; ')})`,
  );
  return [
    `${file} is in the ${tier} tier but uses ${what.join(' and ')}, which its runs lack: ${
      target
        ? `move it to the ${target} tier: git mv ${file} ${renamedFor(file, target)}`
        : `no tier has all of ${[...new Set(uses.map((u) => u.part.name))].join(', ')}: split the file`
    }`,
  ];
}
