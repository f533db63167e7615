import type { Config } from '../store/config.js';

/**
 * Whether the root's config asks for a rehearsal (a command and a health URL to probe it on). Every
 * activation asks, so it lives apart from the rehearsal's own modules, loaded only when one runs.
 */
export function preflightWanted(config: Config): boolean {
  return Boolean(config.preflight && config.healthUrl);
}
