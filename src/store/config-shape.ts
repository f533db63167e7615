/**
 * config.json's shape, judged by its published schema (layout/config.schema.json): compiled here when this module
 * loads, as the tests that run from src/ load it. `npm run build` replaces this module's output in dist/ with ajv's
 * standalone code for the same schema and options (scripts/build-config-shape.mjs), since every command reads the
 * config, the boot-check before every start of the service among them.
 */
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { compileLayoutSchema } from './layout-schema.js';

// CPU ms to load the config reader and validate a config (Node 20, 2 busy cores, medians of 22 runs): no ajv 49, ajv loaded and compiling at start 285, precompiled 56; whole `status` 298 / 553 / 291, `boot-check` 261 / 491 / 269.
export const validateConfigShape: ValidateFunction = compileLayoutSchema('config').validate;
