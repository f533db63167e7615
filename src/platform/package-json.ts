/**
 * Every package.json we read is an object, or the read fails as BAD_PACKAGE_JSON naming the file: a
 * package.json that is a string, a number, `null` or an array is a broken package (npm refuses it too), not a bug
 * of ours, and must never surface as a TypeError (INTERNAL) or as "names undefined" further on.
 */
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ReleaseSwitcherError } from '../model/errors.js';

/** The parsed `package.json` of the package folder `dir`. */
export async function readPackageJson(dir: string, hint = 'The package is not an installable npm package.') {
  const file = path.join(dir, 'package.json');
  return parsedPackageJson(file, hint, await fs.readFile(file, 'utf8').catch((error: unknown) => ({ error })));
}

/**
 * The same, read without a thread-pool hop: for many small files the page cache holds (a release's
 * packages just linked), where each hop would wait behind whatever else keeps the pool busy.
 */
export function readPackageJsonSync(dir: string, hint = 'The package is not an installable npm package.') {
  const file = path.join(dir, 'package.json');
  let text: string | { error: unknown };
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    text = { error };
  }
  return parsedPackageJson(file, hint, text);
}

function parsedPackageJson(file: string, hint: string, text: string | { error: unknown }) {
  let parsed: unknown;
  try {
    if (typeof text !== 'string') throw text.error;
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ReleaseSwitcherError('BAD_PACKAGE_JSON', `${file} is not readable JSON (${(error as Error).message}).`, {
      hint,
      cause: error,
    });
  }
  return asPackageJson(parsed, file, hint);
}

/** `value` as a package.json object, or BAD_PACKAGE_JSON saying what it is instead. */
export function asPackageJson(value: unknown, where: string, hint = 'The package is not an installable npm package.') {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const what = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    throw new ReleaseSwitcherError('BAD_PACKAGE_JSON', `${where} is ${what}, not an object.`, { hint });
  }
  return value as Record<string, unknown>;
}

/**
 * The commands a package.json names (`bin`), by name: a string `bin` is the package's own name (its scope dropped),
 * as npm links it; a name that is not a plain file name, or a value that is not a path, is left out.
 */
export function commandsOf(json: Record<string, unknown>): Record<string, string> {
  const bin =
    typeof json.bin === 'string' && typeof json.name === 'string'
      ? { [json.name.replace(/^@[^/]+\//, '')]: json.bin }
      : json.bin && typeof json.bin === 'object'
        ? (json.bin as Record<string, unknown>)
        : {};
  return Object.fromEntries(
    Object.entries(bin).filter((e): e is [string, string] => typeof e[1] === 'string' && /^[\w.-]+$/.test(e[0])),
  );
}
