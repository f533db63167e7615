/**
 * The node-http preset: a plain Node HTTP service, the smallest service a preset serves (and the one the demo runs).
 * What it expects of the package (docs/presets.md "The node-http preset"):
 * - its entry is package.json's `main` (the unit runs it; no `entry` here, so unit-entry.ts takes `main`);
 * - it listens on `PORT` and answers `GET /health` with JSON carrying its `version` (the health URL's default port
 *   is 3000: give yours with --health-url);
 * - it keeps its state in one folder named by `STATE_DIR`, else `~/.local/state/node-http` of the service's account;
 * - it may ship `migrate.js` at the package root: run by the service's Node with the service's environment (so the
 *   same `STATE_DIR`) on the live state, after the flip with the old process stopped, after the state checkpoint and
 *   before the new release first starts; exit 0 is success, anything else rolls the update back and the checkpoint
 *   goes back. A release without it has nothing to migrate (the step is skipped).
 * No Node of its own (the service's, or the one running release-switcher), no stop budget beyond the generic one.
 */
import type { Preset } from '../types.js';

export const NODE_HTTP: Preset = {
  settings: {
    healthUrl: 'http://127.0.0.1:3000/health',
    versionField: 'version',
    // A plain service starts in well under a second; its migration runs before the start, not in this budget.
    verifyTimeout: 30,
    stableFor: 3,
    // As the service reads it: `${NAME:-fallback}` and `~` are resolved in the service's own environment
    // (snapshot/state-paths.ts), so the checkpoint takes the folder the service and its migration use.
    statePaths: ['${STATE_DIR:-~/.local/state/node-http}'],
  },
  finalize: {
    name: 'migration',
    args: ['migrate.js'],
    env: {},
    // A migration of a small state folder takes seconds; one stuck for ten minutes is ended and rolled back.
    timeoutSeconds: 600,
    // Plain text out, its exit code the verdict (presets/types.ts `verdict`).
    verdict: 'exit-code',
    optional: true,
  },
};
