// The documented on-disk layout (layout/*.schema.json) against a real root built by the CLI.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNELS, SUPERVISORS, validateConfig } from '../../src/store/config.ts';
import { LAYOUT_VERSION, RELEASE_MARKER } from '../../src/store/layout.ts';
import type { State } from '../../src/model/state.ts';
import type { Config } from '../../src/store/config.ts';
import type { ManifestEntry, ReleaseMarker } from '../../src/store/manifest.ts';

const REPO = resolve(import.meta.dirname, '../..');
const CLI = join(REPO, 'dist/cli/main.js');
type Schema = any;
const loadSchema = (name: string): Schema => JSON.parse(readFileSync(join(REPO, 'layout', name), 'utf8'));

// ---- A small JSON Schema (2020-12) validator for the keywords layout/*.schema.json use; annotations are ignored.
const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const hasType = (v: unknown, t: string): boolean =>
  t === 'integer'
    ? Number.isInteger(v)
    : t === 'number'
      ? typeof v === 'number' && Number.isFinite(v)
      : typeOf(v) === t;

function validate(root: Schema, value: unknown, schema: Schema = root, at = '$'): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${at}: not allowed`];
  const errors: string[] = [];
  const known = new Set([
    '$schema',
    '$id',
    '$defs',
    '$ref',
    'title',
    'description',
    'default',
    'format',
    'type',
    'enum',
    'required',
    'properties',
    'additionalProperties',
    'items',
    'anyOf',
    'minimum',
    'maximum',
    'minLength',
    'pattern',
  ]);
  for (const key of Object.keys(schema))
    if (!known.has(key)) throw new Error(`validator does not support "${key}" (at ${at})`);
  if (schema.$ref !== undefined) {
    if (!String(schema.$ref).startsWith('#/')) throw new Error(`only local $ref: ${schema.$ref}`);
    const target = String(schema.$ref)
      .slice(2)
      .split('/')
      .reduce((node: Schema, part: string) => node?.[part], root);
    if (target === undefined) throw new Error(`unresolved $ref ${schema.$ref}`);
    errors.push(...validate(root, value, target, at));
  }
  if (schema.type !== undefined) {
    const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => hasType(value, t)))
      return [...errors, `${at}: is ${typeOf(value)}, expected ${types.join('|')}`];
  }
  if (schema.enum && !schema.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(value)))
    errors.push(`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
  if (schema.anyOf && !schema.anyOf.some((s: Schema) => validate(root, value, s, at).length === 0))
    errors.push(`${at}: matches none of anyOf`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: ${value} < ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: ${value} > ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength)
      errors.push(`${at}: shorter than ${schema.minLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value))
      errors.push(`${at}: does not match ${schema.pattern}`);
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    for (const [i, item] of value.entries()) errors.push(...validate(root, item, schema.items, `${at}[${i}]`));
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in obj)) errors.push(`${at}: missing "${key}"`);
    for (const [key, v] of Object.entries(obj)) {
      const sub = schema.properties?.[key] ?? schema.additionalProperties;
      if (sub !== undefined) errors.push(...validate(root, v, sub, `${at}.${key}`));
    }
  }
  return errors;
}

// ---- A real root: init, install of a local tarball made with npm pack, switch.
let work: string;
let root: string;
const files = {} as { config: Config; state: State; marker: ReleaseMarker };

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'rs-layout-'));
  writeFileSync(join(work, 'npmrc'), '');
  const env = {
    ...process.env,
    npm_config_cache: join(work, 'npm-cache'),
    npm_config_logs_dir: join(work, 'npm-logs'),
    npm_config_userconfig: join(work, 'npmrc'),
    npm_config_update_notifier: 'false',
    RELEASE_SWITCHER_QUIET: '1',
  };
  const pkg = join(work, 'pkg');
  mkdirSync(pkg);
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({
      name: 'rs-layout-fixture',
      version: '1.0.0',
      main: 'index.js',
      bin: { 'rs-layout-fixture': 'bin/cli.js' },
    }),
  );
  writeFileSync(join(pkg, 'index.js'), 'module.exports = 1;\n');
  mkdirSync(join(pkg, 'bin'));
  writeFileSync(join(pkg, 'bin/cli.js'), '#!/usr/bin/env node\nconsole.log(require("../index.js"));\n', {
    mode: 0o755,
  });
  execFileSync('npm', ['pack', '--pack-destination', work, '--loglevel=error'], { cwd: pkg, env, stdio: 'pipe' });
  renameSync(join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!), join(work, 'x.tgz'));
  root = join(work, 'root');
  const rs = (...args: string[]) =>
    execFileSync(process.execPath, [CLI, '--root', root, '--json', ...args], { cwd: work, env, stdio: 'pipe' });
  rs('init', '--package', 'rs-layout-fixture');
  rs('install', './x.tgz');
  rs('switch', '1.0.0');
  const json = (p: string) => JSON.parse(readFileSync(join(root, p), 'utf8'));
  Object.assign(files, {
    config: json('config.json'),
    state: json('state.json'),
    marker: json(`releases/1.0.0/${RELEASE_MARKER}`),
  });
}, 120_000);

afterAll(() => {
  if (!work) return;
  // Releases are sealed: no write bits, and (as root on ext4) the immutable attribute.
  try {
    execFileSync('chattr', ['-R', '-f', '-i', work], { stdio: 'ignore' });
  } catch {
    // chattr exits non-zero on the symlinks it cannot flag; the files and folders it cleared are what matter.
  }
  execFileSync('chmod', ['-R', 'u+w', work]);
  rmSync(work, { recursive: true, force: true });
});

describe('layout/ documents the on-disk tree', () => {
  const config = loadSchema('config.schema.json');
  const state = loadSchema('state.schema.json');
  const marker = loadSchema('release-marker.schema.json');

  it('the real config.json, state.json and release marker match their schemas', () => {
    expect(validate(config, files.config)).toEqual([]);
    expect(validate(state, files.state)).toEqual([]);
    expect(validate(marker, files.marker)).toEqual([]);
    expect(files.state.history.at(-1)).toMatchObject({
      kind: 'switch',
      status: 'switched',
      before: { current: null, previous: null },
    });
    expect(files.marker.files.map((f: ManifestEntry) => f.type).sort()).toEqual(['dir', 'file', 'file', 'file']);
  });

  it('the schemas follow the code: layout version, supervisors, channels', () => {
    for (const schema of [config, state, marker])
      expect(schema.properties.layoutVersion.enum).toEqual([LAYOUT_VERSION]);
    expect(config.properties.supervisor.enum).toEqual([...SUPERVISORS]);
    expect(config.properties.channel.enum).toEqual([...CHANNELS]);
    expect(readFileSync(join(REPO, 'layout/README.md'), 'utf8')).toContain(`Layout version: ${LAYOUT_VERSION}`);
  });

  it('a file that disagrees with a schema fails validation', () => {
    const bogus = { ...files.config, supervisor: 'bogus' };
    expect(() => validateConfig(bogus, 'test')).toThrow(/supervisor/);
    expect(validate(config, bogus)).toEqual([`$.supervisor: "bogus" not in ${JSON.stringify(SUPERVISORS)}`]);
    expect(validate(config, { ...files.config, keep: -1 })).toEqual(['$.keep: -1 < 0']);
    const { operation: _, ...noOperation } = files.state;
    expect(validate(state, noOperation)).toEqual(['$: missing "operation"']);
    expect(validate(state, { ...files.state, transaction: { id: 'x' } })).toEqual([
      '$.transaction: matches none of anyOf',
    ]);
    expect(validate(marker, { ...files.marker, files: [{ path: 'a', type: 'dir', extra: 1 }] })).toEqual([
      '$.files[0]: matches none of anyOf',
    ]);
  });
});
