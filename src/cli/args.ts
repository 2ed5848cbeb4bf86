import { TsbuildError } from '../errors/index.js';

/** Declares one command-line option. */
export interface OptionSpec {
  /** Long name without dashes: `file` for --file. */
  name: string;
  /** One-letter alias without the dash: `f` for -f. */
  short?: string;
  /** boolean flags take no value; string flags take one; list flags may repeat. */
  type: 'boolean' | 'string' | 'list';
  description: string;
  /** Placeholder for help output, e.g. FILE. */
  value?: string;
}

export interface ParsedArgs {
  options: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * A small, strict argv parser: `--name value`, `--name=value`, `-n value`, `-nvalue`, boolean
 * `--name` / `--name=false`, repeatable list options, and `--` to end options. Unknown options
 * are errors (as with docker), so typos never pass silently.
 */
export function parseArgs(argv: string[], specs: OptionSpec[]): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const options: ParsedArgs['options'] = {};
  const positionals: string[] = [];
  for (const s of specs) if (s.type === 'list') options[s.name] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let spec: OptionSpec | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
      spec = byLong.get(name);
      if (!spec) throw usage(`unknown flag: --${name}`);
    } else if (arg.startsWith('-') && arg.length > 1) {
      spec = byShort.get(arg[1]!);
      if (!spec) throw usage(`unknown shorthand flag: '${arg[1]}' in ${arg}`);
      if (arg.length > 2) inline = arg.slice(2).replace(/^=/, '');
    } else {
      positionals.push(arg);
      continue;
    }
    if (spec.type === 'boolean') {
      if (inline === undefined) options[spec.name] = true;
      else if (inline === 'true' || inline === '1') options[spec.name] = true;
      else if (inline === 'false' || inline === '0') options[spec.name] = false;
      else throw usage(`invalid value "${inline}" for --${spec.name}: expected true or false`);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw usage(`flag needs an argument: --${spec.name}`);
      value = argv[++i]!;
    }
    if (spec.type === 'list') (options[spec.name] as string[]).push(value);
    else options[spec.name] = value;
  }
  return { options, positionals };
}

function usage(message: string): TsbuildError {
  return new TsbuildError('ERR_TSBUILD_CLI_USAGE', message);
}

/** Renders option specs as help lines. */
export function formatOptions(specs: OptionSpec[]): string {
  const rows = specs.map((s) => {
    const names = `${s.short ? `-${s.short}, ` : '    '}--${s.name}${s.type === 'boolean' ? '' : ` ${s.value ?? 'VALUE'}`}`;
    return [names, s.description + (s.type === 'list' ? ' (repeatable)' : '')] as const;
  });
  const width = Math.max(0, ...rows.map(([n]) => n.length)) + 2;
  return rows.map(([n, d]) => `  ${n.padEnd(width)}${d}`).join('\n');
}

/** The `--format` value, checked against what a command prints; the first allowed one is the default. */
export function formatOption<F extends string>(value: unknown, allowed: readonly [F, ...F[]]): F {
  const format = (value as string | undefined) ?? allowed[0];
  if (!(allowed as readonly string[]).includes(format)) {
    const list = allowed.length === 2 ? allowed.join(' or ') : `${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}`;
    throw new TsbuildError('ERR_TSBUILD_CLI_USAGE', `unknown --format "${format}": expected ${list}`);
  }
  return format as F;
}
