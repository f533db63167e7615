// What src/ loads lazily, and why (docs/how-it-works.md, "What loads when"). Every dynamic `import()` says on its line,
// or the line above, why it is lazy (`// lazy: …`: the CLI's start-up, a path few runs take, a cycle); one whose
// module the file already loads statically saves nothing and is a plain import instead. The stand-ins of
// platform/lazy-require.ts work only when they are in the module cache before pacote and arborist load: every file
// that imports either imports registry/lazy-pacote.ts (and, for arborist, stage/resolve/lazy-arborist.ts) first.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');
const FILES = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
  .map((file) => `src/${file.split(path.sep).join('/')}`);

interface Source {
  lines: string[];
  /** Modules imported for their values at load (`import type` left out): src/ files, or `pkg:NAME`. */
  statics: string[];
  dynamics: { line: number; target: string }[];
}

function target(from: string, specifier: string): string {
  if (!specifier.startsWith('.')) return `pkg:${specifier}`;
  return path.posix.join(path.posix.dirname(from), specifier).replace(/\.js$/, '.ts');
}

function parse(file: string, text: string): Source {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const statics: string[] = [];
  for (const statement of source.statements) {
    if (!(ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement))) continue;
    if (!statement.moduleSpecifier || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    const clause = ts.isImportDeclaration(statement) ? statement.importClause : undefined;
    const bindings = clause?.namedBindings;
    const typesOnly =
      (ts.isExportDeclaration(statement) && statement.isTypeOnly) ||
      clause?.isTypeOnly ||
      (clause &&
        !clause.name &&
        bindings &&
        ts.isNamedImports(bindings) &&
        bindings.elements.every((e) => e.isTypeOnly));
    if (!typesOnly) statics.push(target(file, statement.moduleSpecifier.text));
  }
  const dynamics: Source['dynamics'] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [specifier] = node.arguments;
      dynamics.push({
        line: source.getLineAndCharacterOfPosition(node.getStart()).line,
        target: specifier && ts.isStringLiteral(specifier) ? target(file, specifier.text) : '(computed)',
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { lines: text.split('\n'), statics, dynamics };
}

/** Every problem of the rules above, as `file:line: what`. */
function lazyImportProblems(sources: Map<string, Source>): string[] {
  const closure = (file: string): Set<string> => {
    const seen = new Set<string>();
    const todo = [file];
    for (let next = todo.pop(); next !== undefined; next = todo.pop())
      for (const dep of sources.get(next)?.statics ?? []) if (!seen.has(dep) && seen.add(dep)) todo.push(dep);
    return seen;
  };
  const problems: string[] = [];
  for (const [file, { lines, statics, dynamics }] of sources) {
    const loaded = closure(file);
    for (const { line, target: module } of dynamics) {
      const where = `${file}:${line + 1}`;
      const said = [lines[line], lines[line - 1]].some((text) => /\/\/ lazy: \S|\/\*\s*lazy: \S/.test(text ?? ''));
      if (!said) problems.push(`${where}: import('${module}') without a "// lazy: why" on its line or the one above`);
      if (loaded.has(module)) problems.push(`${where}: ${module} is loaded statically already: import it plainly`);
    }
    for (const [patched, by] of [
      ['pkg:pacote', 'src/registry/lazy-pacote.ts'],
      ['pkg:@npmcli/arborist', 'src/registry/lazy-pacote.ts'],
      ['pkg:@npmcli/arborist', 'src/stage/resolve/lazy-arborist.ts'],
    ] as const) {
      const at = statics.indexOf(patched);
      const before = statics.indexOf(by);
      if (at >= 0 && (before < 0 || before > at)) problems.push(`${file}: imports ${patched.slice(4)} before ${by}`);
    }
  }
  return problems;
}

describe('lazy imports in src/', () => {
  const sources = new Map(FILES.map((file) => [file, parse(file, readFileSync(path.join(SRC, '..', file), 'utf8'))]));
  const problems = lazyImportProblems(sources);

  it('every dynamic import says why it is lazy, and none loads what the file loads already', () => {
    expect([...sources.values()].flatMap((s) => s.dynamics).length).toBeGreaterThan(40); // the walk found them
    expect(problems).toEqual([]);
  });

  it('the check finds an import without a reason, one that saves nothing, and pacote before its stand-ins', () => {
    const fixture = new Map([
      ['src/a.ts', parse('src/a.ts', "import './b.js';\nconst b = await import('./b.js'); // lazy: start-up\n")],
      ['src/b.ts', parse('src/b.ts', "import pacote from 'pacote';\nimport './registry/lazy-pacote.js';\n")],
      ['src/c.ts', parse('src/c.ts', "const a = await import('./a.js');\n// lazy: a cycle\nawait import('./d.js');\n")],
    ]);
    expect(lazyImportProblems(fixture)).toEqual([
      'src/a.ts:2: src/b.ts is loaded statically already: import it plainly',
      'src/b.ts: imports pacote before src/registry/lazy-pacote.ts',
      `src/c.ts:1: import('src/a.ts') without a "// lazy: why" on its line or the one above`,
    ]);
  });
});
