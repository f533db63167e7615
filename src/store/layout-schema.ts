/**
 * The published schemas of a root's files (layout/*.schema.json, shipped in the package), compiled by ajv. The built
 * CLI never loads this module: the build writes config.json's validator as ajv's standalone code (config-shape.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { PACKAGE_ROOT } from '../platform/self.js';

export type LayoutSchemaName = 'config' | 'state' | 'release-marker' | 'roots';

export function readLayoutSchema(name: LayoutSchemaName): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'layout', `${name}.schema.json`), 'utf8'));
}

/** `source`: keep the generated code, for ajv's standalone output (scripts/build-config-shape.mjs). */
export function compileLayoutSchema(
  name: LayoutSchemaName,
  { source = false } = {},
): { ajv: Ajv2020; validate: ValidateFunction } {
  const ajv = new Ajv2020({
    // Every problem at once (all the unknown keys of a file, not the first), each with the schema it broke and its
    // parent's: the keys known there, for "did you mean", and the value, to say what it is.
    allErrors: true,
    verbose: true,
    allowUnionTypes: true, // "type": ["string", "null"]
    // The only format used is `uri`, an annotation here: validateConfig checks a URL as the code will parse it.
    formats: { uri: true },
    code: { source, esm: true },
  });
  return { ajv, validate: ajv.compile(readLayoutSchema(name)) };
}
