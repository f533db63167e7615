// The published schemas of a root's files (layout/*.schema.json) as tests check a document against them: compiled
// as the tool compiles config.json's (ajv, src/store/layout-schema.ts), the problems worded as the CLI words them
// (src/store/schema-problems.ts).
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { type LayoutSchemaName, compileLayoutSchema } from '../../src/store/layout-schema.ts';
import { schemaProblems } from '../../src/store/schema-problems.ts';

const compiled = new Map<LayoutSchemaName, ValidateFunction>();

/** What `value` breaks in the schema `name`, one line a problem; [] when it matches. */
export function layoutProblems(name: LayoutSchemaName, value: unknown): string[] {
  if (!compiled.has(name)) compiled.set(name, compileLayoutSchema(name).validate);
  const check = compiled.get(name)!;
  return check(value) ? [] : schemaProblems(withoutAnyOfBranches(check.errors ?? [])).map((p) => p.message);
}

/**
 * ajv reports each alternative's failures before the failed anyOf itself, all at or under the anyOf's place: that
 * the value matches none of them is the one problem to show.
 */
function withoutAnyOfBranches(errors: ErrorObject[]): ErrorObject[] {
  const kept: ErrorObject[] = [];
  for (const error of errors) {
    const under = (other: ErrorObject) =>
      other.instancePath === error.instancePath || other.instancePath.startsWith(`${error.instancePath}/`);
    if (error.keyword === 'anyOf') while (kept.length > 0 && under(kept.at(-1)!)) kept.pop();
    kept.push(error);
  }
  return kept;
}
