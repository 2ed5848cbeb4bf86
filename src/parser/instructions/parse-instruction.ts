/**
 * InstructionNode -> typed Instruction, validating as BuildKit's instructions package does:
 * known keywords, allowed flags and their values, argument counts and forms. Errors carry the
 * file and line (DockerfileError) and a code from the catalogue.
 */
import { DockerfileError, type ErrorCode } from '../../errors/index.js';
import type { InstructionNode } from '../ast.js';
import { parseDuration } from './duration.js';
import { FlagError, parseFlags, type FlagSpec, type ParsedFlags } from './flags.js';
import { parseMount } from './mounts.js';
import type { HealthcheckSpec, Instruction } from './types.js';

const FLAGS: Record<string, FlagSpec> = {
  from: { string: ['platform'] },
  run: { list: ['mount'], string: ['network', 'security'] },
  copy: { string: ['from', 'chown', 'chmod'], bool: ['link', 'parents'], list: ['exclude'] },
  add: { string: ['chown', 'chmod', 'checksum'], bool: ['link', 'keep-git-dir'], list: ['exclude'] },
  healthcheck: { string: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'] },
};

class InstructionError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const fail = (code: ErrorCode, message: string): never => {
  throw new InstructionError(code, message);
};

/** Parses one node; `file` names the Dockerfile in errors. */
export function parseInstruction(node: InstructionNode, file: string): Instruction {
  try {
    return parseNode(node);
  } catch (err) {
    if (err instanceof InstructionError || err instanceof FlagError) {
      const code = err instanceof InstructionError ? err.code : 'ERR_TSBUILD_INSTRUCTION_FLAG';
      throw new DockerfileError(code, err.message, { file, startLine: node.range.startLine, endLine: node.range.endLine }, { source: node.original });
    }
    throw err;
  }
}

function parseNode(node: InstructionNode): Instruction {
  const base = { range: node.range, original: node.original };
  const upper = node.keyword.toUpperCase();
  const flags: ParsedFlags = parseFlags(node.flags, FLAGS[node.keyword] ?? {}, upper);
  const a = node.args;
  const exactlyOne = (): string => (a.length === 1 && a[0] !== '' ? a[0]! : fail('ERR_TSBUILD_INSTRUCTION_ARGS', `${upper} requires exactly one argument`));
  switch (node.keyword) {
    case 'from': {
      if (a.length !== 1 && a.length !== 3) fail('ERR_TSBUILD_INSTRUCTION_ARGS', 'FROM requires either one or three arguments');
      if (a.length === 3 && a[1]!.toLowerCase() !== 'as') fail('ERR_TSBUILD_INSTRUCTION_ARGS', `FROM requires either one or three arguments; the second must be AS, got "${a[1]}"`);
      const platform = flags.strings.get('platform');
      return { ...base, kind: 'from', image: a[0]!, ...(a.length === 3 ? { stageName: a[2]! } : {}), ...(platform !== undefined ? { platform } : {}) };
    }
    case 'run': {
      if (a.length === 0) fail('ERR_TSBUILD_INSTRUCTION_ARGS', 'RUN requires at least one argument');
      const network = flags.strings.get('network');
      if (network !== undefined && !/^(default|none|host|\$.*)$/.test(network)) fail('ERR_TSBUILD_INSTRUCTION_FLAG', `unsupported network mode "${network}"`);
      const security = flags.strings.get('security');
      if (security !== undefined && !/^(sandbox|insecure)$/.test(security)) fail('ERR_TSBUILD_INSTRUCTION_FLAG', `unsupported security mode "${security}"`);
      // Mount values may hold variables; they are re-parsed after expansion. Parse now to
      // report syntax errors early when there is nothing to expand.
      for (const m of flags.lists.get('mount')!) if (!m.includes('$')) parseMount(m);
      return {
        ...base,
        kind: 'run',
        command: a,
        json: node.json,
        heredocs: node.heredocs,
        mounts: flags.lists.get('mount')!,
        ...(network !== undefined ? { network } : {}),
        ...(security !== undefined ? { security } : {}),
      };
    }
    case 'cmd':
    case 'entrypoint':
      return { ...base, kind: node.keyword, command: a, json: node.json };
    case 'shell':
      if (!node.json) fail('ERR_TSBUILD_INSTRUCTION_ARGS', 'SHELL requires the arguments to be in JSON form');
      if (a.length === 0) fail('ERR_TSBUILD_INSTRUCTION_ARGS', 'SHELL requires at least one argument');
      return { ...base, kind: 'shell', shell: a };
    case 'env':
    case 'label':
      if (!node.pairs || node.pairs.length === 0) fail('ERR_TSBUILD_INSTRUCTION_ARGS', `${upper} requires at least one argument`);
      return { ...base, kind: node.keyword, pairs: node.pairs! };
    case 'arg': {
      if (a.length === 0) fail('ERR_TSBUILD_INSTRUCTION_ARGS', 'ARG requires at least one argument');
      return {
        ...base,
        kind: 'arg',
        args: a.map((w) => {
          const eq = w.indexOf('=');
          if (eq === 0) fail('ERR_TSBUILD_INSTRUCTION_ARGS', `ARG names can not be blank: "${w}"`);
          return eq === -1 ? { key: w } : { key: w.slice(0, eq), value: w.slice(eq + 1) };
        }),
      };
    }
    case 'copy':
    case 'add': {
      if (a.length < 2) fail('ERR_TSBUILD_INSTRUCTION_ARGS', `${upper} requires at least two arguments, but only one was provided. Destination could not be determined`);
      const chmod = flags.strings.get('chmod');
      if (chmod !== undefined && !chmod.includes('$') && !/^([0-7]{3,4}|([ugoa]*[-+=][rwxXst]*)(,[ugoa]*[-+=][rwxXst]*)*)$/.test(chmod)) {
        fail('ERR_TSBUILD_INSTRUCTION_FLAG', `invalid chmod parameter: ${chmod}`);
      }
      const checksum = flags.strings.get('checksum');
      if (checksum !== undefined && !checksum.includes('$') && !/^sha(256|384|512):[a-f0-9]+$/.test(checksum)) fail('ERR_TSBUILD_INSTRUCTION_FLAG', `invalid checksum digest format: ${checksum}`);
      const from = flags.strings.get('from');
      if (from === '') fail('ERR_TSBUILD_INSTRUCTION_FLAG', `--from requires a value`);
      const chown = flags.strings.get('chown');
      return {
        ...base,
        kind: node.keyword,
        sources: a.slice(0, -1),
        dest: a.at(-1)!,
        heredocs: node.heredocs,
        ...(from !== undefined ? { from } : {}),
        ...(chown !== undefined ? { chown } : {}),
        ...(chmod !== undefined ? { chmod } : {}),
        link: flags.bools.get('link') ?? false,
        exclude: flags.lists.get('exclude')!,
        parents: flags.bools.get('parents') ?? false,
        ...(checksum !== undefined ? { checksum } : {}),
        ...(flags.bools.has('keep-git-dir') ? { keepGitDir: flags.bools.get('keep-git-dir')! } : {}),
      };
    }
    case 'workdir':
      return { ...base, kind: 'workdir', path: exactlyOne() };
    case 'user':
      return { ...base, kind: 'user', user: exactlyOne() };
    case 'stopsignal':
      return { ...base, kind: 'stopsignal', signal: exactlyOne() };
    case 'maintainer':
      return { ...base, kind: 'maintainer', name: exactlyOne() };
    case 'expose':
      if (a.length === 0) fail('ERR_TSBUILD_INSTRUCTION_ARGS', 'EXPOSE requires at least one argument');
      return { ...base, kind: 'expose', ports: a };
    case 'volume':
      if (a.length === 0 || a.some((p) => p.trim() === '')) fail('ERR_TSBUILD_INSTRUCTION_ARGS', 'VOLUME specified can not be an empty string');
      return { ...base, kind: 'volume', paths: a };
    case 'healthcheck':
      return { ...base, ...parseHealthcheck(node, flags) };
    case 'onbuild': {
      const sub = node.onbuild;
      if (!sub) return fail('ERR_TSBUILD_INSTRUCTION_ARGS', 'ONBUILD requires at least one argument');
      if (sub.keyword === 'onbuild') fail('ERR_TSBUILD_INSTRUCTION_ARGS', 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (sub.keyword === 'from' || sub.keyword === 'maintainer') fail('ERR_TSBUILD_INSTRUCTION_ARGS', `${sub.keyword.toUpperCase()} isn't allowed as an ONBUILD trigger`);
      // Validate the trigger now, so a bad trigger fails where it is written.
      parseNode(sub);
      const trigger = node.original.replace(/^\s*onbuild\s+/i, '').replace(/^(--\S+\s+)*/, '');
      return { ...base, kind: 'onbuild', trigger };
    }
    default:
      return fail('ERR_TSBUILD_INSTRUCTION_UNKNOWN', `unknown instruction: ${node.rawKeyword || '(empty)'}`);
  }
}

function parseHealthcheck(node: InstructionNode, flags: ParsedFlags): Instruction {
  const a = node.args;
  const type = (a[0] ?? '').toUpperCase();
  if (type === 'NONE') {
    if (a.length > 1) fail('ERR_TSBUILD_INSTRUCTION_HEALTHCHECK', 'HEALTHCHECK NONE takes no arguments');
    if (node.flags.length > 0) fail('ERR_TSBUILD_INSTRUCTION_HEALTHCHECK', 'HEALTHCHECK NONE takes no options');
    return { kind: 'healthcheck', none: true } as Instruction;
  }
  if (type !== 'CMD') fail('ERR_TSBUILD_INSTRUCTION_HEALTHCHECK', `Unknown type "${a[0] ?? ''}" in HEALTHCHECK (try CMD)`);
  const cmd = a.slice(1);
  if (cmd.length === 0 || (cmd.length === 1 && cmd[0] === '')) fail('ERR_TSBUILD_INSTRUCTION_HEALTHCHECK', 'Missing command after HEALTHCHECK CMD');
  const spec: HealthcheckSpec = { test: node.json ? ['CMD', ...cmd] : ['CMD-SHELL', cmd[0]!] };
  const durations: Array<[string, 'interval' | 'timeout' | 'startPeriod' | 'startInterval']> = [
    ['interval', 'interval'],
    ['timeout', 'timeout'],
    ['start-period', 'startPeriod'],
    ['start-interval', 'startInterval'],
  ];
  for (const [flag, key] of durations) {
    const v = flags.strings.get(flag);
    if (v === undefined) continue;
    const ns = parseDuration(v);
    if (ns === undefined) fail('ERR_TSBUILD_INSTRUCTION_HEALTHCHECK', `invalid duration for --${flag}: "${v}"`);
    if (ns! !== 0 && ns! < 1e6) fail('ERR_TSBUILD_INSTRUCTION_HEALTHCHECK', `--${flag} cannot be less than 1ms`);
    spec[key] = ns!;
  }
  const retries = flags.strings.get('retries');
  if (retries !== undefined) {
    if (!/^-?\d+$/.test(retries)) fail('ERR_TSBUILD_INSTRUCTION_HEALTHCHECK', `invalid value for --retries: "${retries}"`);
    if (Number(retries) < 0) fail('ERR_TSBUILD_INSTRUCTION_HEALTHCHECK', '--retries cannot be negative');
    spec.retries = Number(retries);
  }
  return { kind: 'healthcheck', none: false, ...spec } as Instruction;
}
