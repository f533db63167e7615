/** Where this installation of release-switcher lives: the runner, the boot-check and the timer run its CLI. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built CLI entry point (dist/cli/main.js) of this very installation. */
export const CLI_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** The folder of this installation's package (dist/platform/self.js → the package root). */
export const PACKAGE_ROOT = path.resolve(fileURLToPath(new URL('../../', import.meta.url)));
const PACKAGE_JSON = path.join(PACKAGE_ROOT, 'package.json');

/** The version of this installation, as its package.json says (`--version`). */
export async function ownVersion(): Promise<string> {
  return (JSON.parse(await readFile(PACKAGE_JSON, 'utf8')) as { version: string }).version;
}
