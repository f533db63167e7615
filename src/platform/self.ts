/** Where this installation of release-switcher lives: the runner, the boot-check and the timer run its CLI. */
import { fileURLToPath } from 'node:url';

/** The built CLI entry point (dist/cli/main.js) of this very installation. */
export const CLI_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
