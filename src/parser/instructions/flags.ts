/**
 * Instruction flags (BuildKit's BFlags): `--name=value`, `--name` for booleans, repeatable list
 * flags. Unknown flags, missing values and bad booleans are errors at the flag's line.
 */
export class FlagError extends Error {}

export interface FlagSpec {
  string?: string[];
  bool?: string[];
  list?: string[];
}

export interface ParsedFlags {
  strings: Map<string, string>;
  bools: Map<string, boolean>;
  lists: Map<string, string[]>;
}

export function parseFlags(flags: string[], spec: FlagSpec, instruction: string): ParsedFlags {
  const out: ParsedFlags = { strings: new Map(), bools: new Map(), lists: new Map() };
  for (const l of spec.list ?? []) out.lists.set(l, []);
  for (const raw of flags) {
    const body = raw.slice(2);
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    const value = eq === -1 ? undefined : body.slice(eq + 1);
    if (name === '') throw new FlagError(`${instruction}: empty flag name in "${raw}"`);
    if (spec.bool?.includes(name)) {
      if (out.bools.has(name)) throw new FlagError(`Duplicate flag specified: ${name}`);
      if (value === undefined || value === '' || value.toLowerCase() === 'true') out.bools.set(name, true);
      else if (value.toLowerCase() === 'false') out.bools.set(name, false);
      else throw new FlagError(`expecting boolean value for flag ${name}, not: ${value}`);
    } else if (spec.string?.includes(name)) {
      if (value === undefined) throw new FlagError(`Missing a value on flag: ${name}`);
      if (out.strings.has(name)) throw new FlagError(`Duplicate flag specified: ${name}`);
      out.strings.set(name, value);
    } else if (spec.list?.includes(name)) {
      if (value === undefined) throw new FlagError(`Missing a value on flag: ${name}`);
      out.lists.get(name)!.push(value);
    } else {
      throw new FlagError(`unknown flag: ${name}`);
    }
  }
  return out;
}
