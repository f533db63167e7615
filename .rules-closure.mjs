import ts from 'typescript';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
const files = readdirSync('src', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map(f=>path.join('src',f));
const staticDeps = new Map(), dyn = [];
const resolve = (from, spec) => { if (!spec.startsWith('.')) return 'pkg:'+spec; const p = path.join(path.dirname(from), spec).replace(/\.js$/, '.ts'); return p; };
for (const f of files) {
  const text = readFileSync(f, 'utf8'); const sf = ts.createSourceFile(f, text, ts.ScriptTarget.Latest, true);
  const deps = new Set();
  for (const st of sf.statements) {
    if ((ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) && st.moduleSpecifier) {
      if (ts.isImportDeclaration(st) && st.importClause?.isTypeOnly) continue;
      if (ts.isExportDeclaration(st) && st.isTypeOnly) continue;
      if (ts.isImportDeclaration(st) && st.importClause && !st.importClause.name && st.importClause.namedBindings && ts.isNamedImports(st.importClause.namedBindings) && st.importClause.namedBindings.elements.length>0 && st.importClause.namedBindings.elements.every(e=>e.isTypeOnly)) continue;
      deps.add(resolve(f, st.moduleSpecifier.text));
    }
  }
  staticDeps.set(f, deps);
  const visit = (n) => { if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && ts.isStringLiteral(n.arguments[0])) { dyn.push([f, sf.getLineAndCharacterOfPosition(n.getStart()).line+1, resolve(f, n.arguments[0].text)]); } ts.forEachChild(n, visit); };
  visit(sf);
}
const closure = (f) => { const seen = new Set(); const st=[f]; while (st.length) { const x = st.pop(); for (const d of staticDeps.get(x) ?? []) if (!seen.has(d)) { seen.add(d); st.push(d);} } return seen; };
for (const [f, line, target] of dyn) {
  const c = closure(f);
  const tc = target.startsWith('pkg:') ? new Set() : closure(target);
  const cycle = tc.has(f);
  const newMods = target.startsWith('pkg:') ? (c.has(target)?0:1) : [...tc, target].filter(x=>!c.has(x) && x!==f).length;
  console.log(`${f}:${line} -> ${target} ${c.has(target)?'ALREADY-STATIC':''} ${cycle?'CYCLE':''} new=${newMods}`);
}
