/** What a document breaks in its JSON schema, said for a person: ajv's errors, each with where it is and what is wanted. */
import type { ErrorObject } from 'ajv/dist/2020.js';
import { closest } from '../model/closest.js';

export interface SchemaProblem {
  /** JSON pointer to the value that is wrong, or to the unknown key. */
  path: string;
  /** The document's own key the problem is in (the first step of `path`); '' for the document itself. */
  field: string;
  /** What is wrong, and where: `unknown key "healthUrll" at /healthUrll`, `"keep" must be a number, not a string`. */
  message: string;
  /** An unknown key: its name. */
  unknownKey?: string;
  /** An unknown key: the known key at its level nearest to it, when it looks like a typo of it. */
  suggestion?: string;
}

const KINDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
  null: 'null',
};
const kindOf = (value: unknown): string =>
  KINDS[value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value] ?? typeof value;
/** The first step of a JSON pointer, unescaped. */
const fieldOf = (pointer: string) => (pointer.split('/')[1] ?? '').replaceAll('~1', '/').replaceAll('~0', '~');
/** The value at `pointer` named by its key, with the pointer when it lies deeper. */
function subjectAt(pointer: string): string {
  const field = fieldOf(pointer);
  if (pointer === '') return 'the document';
  return pointer === `/${field}` ? `"${field}"` : `"${field}" at ${pointer}`;
}

function wanted(error: ErrorObject): string {
  const { params, data } = error;
  switch (error.keyword) {
    case 'type': {
      // One type, or a union joined by commas ("string,null").
      const types = String(params.type).split(',');
      return `must be ${types.map((t) => KINDS[t] ?? t).join(' or ')}, not ${kindOf(data)}`;
    }
    case 'enum':
      return `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, not ${JSON.stringify(data)}`;
    case 'minimum':
    case 'maximum':
      return `must be ${error.keyword === 'minimum' ? '≥' : '≤'} ${params.limit}, not ${JSON.stringify(data)}`;
    case 'minLength':
      return params.limit === 1 ? 'must not be empty' : `must be at least ${params.limit} characters long`;
    default:
      return error.message ?? `breaks "${error.keyword}"`;
  }
}

/**
 * The problems of ajv's errors (compiled with `verbose`, which gives each error its schema's parent), unknown keys
 * first: a misspelled key is the likelier cause of the rest (the setting it meant is missing).
 */
export function schemaProblems(errors: readonly ErrorObject[]): SchemaProblem[] {
  const problems = errors.map((error): SchemaProblem => {
    if (error.keyword !== 'additionalProperties') {
      const path = error.instancePath;
      return { path, field: fieldOf(path), message: `${subjectAt(path)} ${wanted(error)}` };
    }
    const key = String(error.params.additionalProperty);
    const path = `${error.instancePath}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    const known = Object.keys((error.parentSchema?.properties as Record<string, unknown> | undefined) ?? {});
    const suggestion = closest(key, known);
    return {
      path,
      field: fieldOf(path),
      message: `unknown key "${key}" at ${path}`,
      unknownKey: key,
      ...(suggestion !== undefined && { suggestion }),
    };
  });
  return problems.sort((a, b) => Number(b.unknownKey !== undefined) - Number(a.unknownKey !== undefined));
}
