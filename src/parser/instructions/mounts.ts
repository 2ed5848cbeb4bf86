/**
 * `RUN --mount=...` options, parsed and validated as BuildKit does (CSV of key=value; the
 * first field may omit `type=`). Values may hold variables: the planner expands them first.
 */
import { FlagError } from './flags.js';
import type { MountSpec } from './types.js';

const TYPES = new Set(['bind', 'cache', 'tmpfs', 'secret', 'ssh']);

function parseBool(key: string, value: string | undefined): boolean {
  if (value === undefined || value === '') return true;
  const v = value.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new FlagError(`invalid value for ${key}: ${value}`);
}

function parseUint(key: string, value: string | undefined, base = 10): number {
  const re = base === 8 ? /^0?[0-7]+$/ : /^\d+$/;
  if (value === undefined || !re.test(value)) throw new FlagError(`invalid value for ${key}: ${value ?? ''}`);
  return parseInt(value, base);
}

/** Splits CSV fields, honouring double quotes like Go's encoding/csv. */
function csvFields(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') {
      if (quoted && s[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = !quoted;
    } else if (c === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (quoted) throw new FlagError(`invalid mount: unterminated quote in "${s}"`);
  out.push(cur);
  return out;
}

export function parseMount(value: string): MountSpec {
  const fields = csvFields(value);
  const m: MountSpec = { type: 'bind' };
  const typeField = fields.find((f) => f.toLowerCase().startsWith('type='));
  if (typeField) {
    const t = typeField.slice(5).toLowerCase();
    if (!TYPES.has(t)) throw new FlagError(`unsupported mount type "${t}"`);
    m.type = t as MountSpec['type'];
  }
  for (const field of fields) {
    if (field === '') continue;
    const eq = field.indexOf('=');
    const key = (eq === -1 ? field : field.slice(0, eq)).toLowerCase();
    const v = eq === -1 ? undefined : field.slice(eq + 1);
    switch (key) {
      case 'type':
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = v ?? '';
        break;
      case 'source':
      case 'src':
        m.source = v ?? '';
        break;
      case 'from':
        m.from = v ?? '';
        break;
      case 'readonly':
      case 'ro':
        m.readonly = parseBool(key, v);
        break;
      case 'readwrite':
      case 'rw':
        m.readonly = !parseBool(key, v);
        break;
      case 'id':
        m.id = v ?? '';
        break;
      case 'sharing': {
        if (v !== 'shared' && v !== 'private' && v !== 'locked') throw new FlagError(`unsupported sharing value "${v ?? ''}"`);
        m.sharing = v;
        break;
      }
      case 'mode':
        m.mode = parseUint(key, v, 8);
        break;
      case 'uid':
        m.uid = parseUint(key, v);
        break;
      case 'gid':
        m.gid = parseUint(key, v);
        break;
      case 'size':
        m.size = parseSize(v);
        break;
      case 'required':
        m.required = parseBool(key, v);
        break;
      case 'env':
        m.env = v ?? '';
        break;
      default:
        throw new FlagError(`unexpected key '${key}' in '${field}'`);
    }
  }
  if ((m.type === 'bind' || m.type === 'cache' || m.type === 'tmpfs') && !m.target) throw new FlagError(`mount type ${m.type} requires a target`);
  if (m.type === 'secret' && !m.id && !m.target && !m.env) throw new FlagError('secret mount requires an id, a target or an env');
  if (m.type !== 'tmpfs' && m.size !== undefined) throw new FlagError(`size is only valid for tmpfs mounts`);
  if (m.type !== 'cache' && m.sharing !== undefined) throw new FlagError(`sharing is only valid for cache mounts`);
  if (m.type !== 'secret' && m.env !== undefined) throw new FlagError(`env is only valid for secret mounts`);
  return m;
}

/** Sizes like 64m, 1g, 1024 (bytes). */
function parseSize(v: string | undefined): number {
  const m = /^(\d+)([kmgt]?)b?$/i.exec(v ?? '');
  if (!m) throw new FlagError(`invalid value for size: ${v ?? ''}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(m[1]) * mult;
}
