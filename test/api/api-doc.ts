// Reads the package root's exports with the TypeScript compiler (no build needed): which functions have no JSDoc,
// and which optional options of their first parameters have no `@default`. Used by public-api.test.ts.
import path from 'node:path';
import ts from 'typescript';

export interface ApiDocGaps {
  values: string[];
  types: string[];
  undocumented: string[];
  noDefault: string[];
}

/**
 * One program for every entry the caller reads (the root and the internals): the sources they share are parsed and
 * bound once, not once per entry (seconds each). With the package's own compiler options (tsconfig.json: its `lib`
 * and `types`), as the build reads the same sources: without them TypeScript loads every `@types` package and, for
 * the target alone, the DOM's declarations too, 2 MB of a 6.8 MB program that no export of ours names.
 */
export function apiProgram(entries: string[]): ts.Program {
  const tsconfig = path.resolve(import.meta.dirname, '../../tsconfig.json');
  const { config, error } = ts.readConfigFile(tsconfig, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const { options } = ts.convertCompilerOptionsFromJson(config.compilerOptions, path.dirname(tsconfig));
  return ts.createProgram(entries, { ...options, noEmit: true });
}

export function apiDocGaps(entry: string, program: ts.Program = apiProgram([entry])): ApiDocGaps {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(path.resolve(entry));
  if (!source) throw new Error(`${entry}: not in the program`);
  const gaps: ApiDocGaps = { values: [], types: [], undocumented: [], noDefault: [] };
  for (const exported of checker.getExportsOfModule(checker.getSymbolAtLocation(source)!)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const isValue = (symbol.flags & ts.SymbolFlags.Value) !== 0;
    (isValue ? gaps.values : gaps.types).push(exported.name);
    if (!(symbol.flags & ts.SymbolFlags.Function)) continue;
    if (symbol.getDocumentationComment(checker).length === 0) gaps.undocumented.push(exported.name);
    const signature = checker.getSignaturesOfType(checker.getTypeOfSymbol(symbol), ts.SignatureKind.Call)[0];
    for (const parameter of signature?.getParameters() ?? []) {
      const where = `${exported.name}(${parameter.name}`;
      checkOptions(checker, checker.getTypeOfSymbol(parameter), where, gaps.noDefault);
    }
  }
  for (const list of Object.values(gaps)) list.sort();
  return gaps;
}

/** Optional properties without `@default`, and those of a nested options object the root names (init's `settings`). */
function checkOptions(checker: ts.TypeChecker, type: ts.Type, where: string, out: string[], depth = 0): void {
  if (checker.isArrayLikeType(type) || type.getCallSignatures().length > 0) return;
  for (const property of checker.getPropertiesOfType(type)) {
    const tags = property.getJsDocTags(checker).map((tag) => tag.name);
    if (property.flags & ts.SymbolFlags.Optional && !tags.includes('default')) out.push(`${where}.${property.name})`);
    const inner = checker.getNonNullableType(checker.getTypeOfSymbol(property));
    const declared = property.valueDeclaration;
    const named = declared && ts.isPropertySignature(declared) ? declared.type?.getText() : undefined;
    if (depth === 0 && named === 'Settings') checkOptions(checker, inner, `${where}.${property.name}`, out, depth + 1);
  }
}
