/**
 * The Markdown references shipped in docs/: the CLI's (docs/cli.md) from the command definitions, as the man page
 * and the help are, and config.json's (docs/configuration.md) from layout/config.schema.json. scripts/docs.mjs writes
 * them from the build (`npm run docs`); test/docs.test.ts fails when the committed files differ from what this makes.
 */
import { COMMANDS, type CommandDef, GLOBAL_OPTIONS, type OptionDef, valueAfterFlag } from './definitions.js';
import { INIT_OPTIONS } from './init-options.js';
import { DESCRIPTION, ENVIRONMENT, EXIT_MEANINGS, errorCodesExiting } from './manpage.js';

const GENERATED = (source: string) =>
  `<!-- Generated from ${source} by scripts/docs.mjs (npm run docs). Do not edit: change the source and regenerate. -->`;

/**
 * Text for a Markdown table cell: outside code spans, `<`, `*`, `\` and an underscore that could open emphasis are
 * escaped; everywhere `|`, which would end the cell (GFM reads `\|` as `|` inside code spans too).
 */
function cell(text: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part, i) =>
      i % 2 === 1
        ? part
        : part
            .replace(/\\/g, '\\\\')
            .replace(/</g, '&lt;')
            .replace(/\*/g, '\\*')
            .replace(/(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu, '\\_'),
    )
    .join('')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ');
}

const sentence = (text: string) => `${text[0]!.toUpperCase()}${text.slice(1)}.`;

function flag(name: string, o: OptionDef): string {
  const value = valueAfterFlag(o);
  const repeatable = o.multiple && !o.description.includes('repeatable') ? ' (repeatable)' : '';
  return `\`${o.short ? `-${o.short}, ` : ''}--${name}${value}\`${repeatable}`;
}

function optionTable(options: Record<string, OptionDef>): string[] {
  return [
    '| option | meaning |',
    '|---|---|',
    ...Object.entries(options).map(([name, o]) => `| ${cell(flag(name, o))} | ${cell(o.description)} |`),
  ];
}

function commandSection(def: CommandDef): string[] {
  const options = Object.keys(def.options).length > 0 ? ['', ...optionTable(def.options)] : [];
  return [
    `### ${def.name}`,
    '',
    `\`release-switcher ${def.name}${def.args ? ` ${def.args}` : ''}\``,
    '',
    cell(sentence(def.summary)),
    ...options,
    '',
    'Examples:',
    '',
    '```sh',
    ...def.examples,
    '```',
    '',
  ];
}

/** docs/cli.md: every command, its options and examples, the global options, exit status and environment. */
export function cliReference(): string {
  const visible = COMMANDS.filter((c) => !c.hidden);
  return [
    GENERATED('src/cli/definitions.ts'),
    '',
    '# CLI reference',
    '',
    '`release-switcher [--root DIR] [--json] COMMAND [options]`, `release-switcher help [COMMAND]`, ' +
      '`release-switcher --version`. The same text is in `release-switcher COMMAND --help` and `man release-switcher`.',
    '',
    ...DESCRIPTION.flatMap((paragraph) => [cell(paragraph), '']),
    'The envelope, the transaction and every error code: [exit codes and JSON](exit-codes-and-json.md); the settings ' +
      '`init` takes, as config.json stores them: [configuration](configuration.md).',
    '',
    '## Global options',
    '',
    ...optionTable(GLOBAL_OPTIONS),
    '',
    '## Commands',
    '',
    '| command | does |',
    '|---|---|',
    ...visible.map((c) => `| [\`${c.name}\`](#${c.name}) | ${cell(c.summary)} |`),
    '',
    ...visible.flatMap(commandSection),
    '## Exit status',
    '',
    '| code | meaning | error codes |',
    '|---|---|---|',
    ...Object.entries(EXIT_MEANINGS).map(([code, meaning]) => {
      const codes = errorCodesExiting(Number(code)).map((c) => `\`${c}\``);
      const errors = code === '1' ? '[all the others](exit-codes-and-json.md#error-codes)' : codes.join(', ');
      return `| ${code} | ${cell(meaning)} | ${errors} |`;
    }),
    '',
    '## Environment',
    '',
    '| variable | meaning |',
    '|---|---|',
    ...Object.entries(ENVIRONMENT).map(([name, text]) => `| \`${name}\` | ${cell(text)} |`),
    '',
  ].join('\n');
}

/** The part of a JSON schema that layout/config.schema.json uses for its fields. */
export interface FieldSchema {
  description?: string;
  type?: string | string[];
  enum?: unknown[];
  items?: { type?: string };
  additionalProperties?: boolean | { type?: string };
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  format?: string;
}

export interface ConfigSchema {
  title: string;
  description: string;
  required?: string[];
  properties: Record<string, FieldSchema>;
}

function typeOf(field: FieldSchema): string {
  if (field.enum) return field.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' | ');
  const types = Array.isArray(field.type) ? field.type : field.type ? [field.type] : [];
  const named = types.map((t) => {
    if (t === 'array') return `${field.items?.type ?? 'any'}[]`;
    const values = field.additionalProperties;
    if (t === 'object' && typeof values === 'object') return `{ NAME: ${values.type ?? 'any'} }`;
    return t === 'string' && field.format === 'uri' ? 'string (URL)' : t;
  });
  const bounds = [
    field.minimum !== undefined ? `≥ ${field.minimum}` : '',
    field.maximum !== undefined ? `≤ ${field.maximum}` : '',
    field.minLength ? 'not empty' : '',
  ].filter(Boolean);
  return `\`${named.join(' | ')}\`${bounds.length > 0 ? ` (${bounds.join(', ')})` : ''}`;
}

/** The `init` flag that sets a config field: its name in kebab case, a list field's flag in the singular. */
function initFlagOf(field: string): string | undefined {
  const kebab = field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return [kebab, kebab.replace(/s$/, '')].find((name) => INIT_OPTIONS[name]);
}

/** docs/configuration.md: one row per field of config.json (type, default, the `init` flag, what it means). */
export function configReference(schema: ConfigSchema): string {
  const fields = Object.entries(schema.properties);
  const flags = new Set(fields.map(([name]) => initFlagOf(name)));
  const actions = Object.entries(INIT_OPTIONS).filter(([name]) => !flags.has(name));
  const row = ([name, field]: [string, FieldSchema]) => {
    const fallback = schema.required?.includes(name) ? 'required' : '';
    const value = 'default' in field ? `\`${JSON.stringify(field.default)}\`` : fallback;
    const option = initFlagOf(name);
    const setBy = option ? flag(option, INIT_OPTIONS[option]!) : '';
    return `| \`${name}\` | ${cell(typeOf(field))} | ${cell(value)} | ${cell(setBy)} | ${cell(field.description ?? '')} |`;
  };
  return [
    GENERATED('layout/config.schema.json'),
    '',
    '# Configuration reference',
    '',
    `\`${schema.title}\`: ${cell(schema.description)}`,
    '',
    '`release-switcher init` writes these settings; running it again on an existing root changes only the flags ' +
      'given. The library reads the same file (`init({ root, settings })` takes the fields by these names). The ' +
      'schema itself ships as `layout/config.schema.json`; the rest of the root is described in ' +
      '[the layout](../layout/README.md).',
    '',
    '| field | type | default | `init` flag | meaning |',
    '|---|---|---|---|---|',
    ...fields.map(row),
    '',
    '## Other `init` options',
    '',
    'Actions of `init` rather than settings; config.json does not store them.',
    '',
    ...optionTable(Object.fromEntries(actions)),
    '',
  ].join('\n');
}
