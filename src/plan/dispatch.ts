/**
 * One function per instruction: each reads the stage state, expands its words in the scope in
 * force *before* the instruction, and either updates the image config (metadata steps, an
 * `empty_layer` history entry) or adds a layer op to the graph.
 */
import path from 'node:path';
import { DockerfileError, TsbuildError, type ErrorCode } from '../errors/index.js';
import type { ExecMount, NetworkMode } from '../graph/index.js';
import { expandWord, expandWords, type ExpandEnv } from '../parser/expand.js';
import { goQuote } from '../parser/index.js';
import { dispatchCopy } from './copy.js';
import { formatHealthcheckHistory } from './healthcheck-history.js';
import { isValidStopSignal } from './signal.js';
import { parseMount, type Instruction } from '../parser/instructions/index.js';
import type { Digest } from '../util/digest.js';
import type { GraphBuilder, StageState } from './types.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const PROXY_ARGS = new Set(['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY'].flatMap((k) => [k, k.toLowerCase()]));

/** Services dispatch needs from the planner. */
export interface DispatchContext {
  file: string;
  escape: '\\' | '`';
  graph: GraphBuilder;
  /** Build args given on the command line. */
  buildArgs: Record<string, string>;
  /** Global ARG defaults (declared before the first FROM). */
  globalArgs: Map<string, string | undefined>;
  /** TARGETPLATFORM, BUILDARCH...: values an `ARG NAME` without default picks up. */
  builtinArgs: Map<string, string>;
  /** Build args consumed by an ARG declaration. */
  usedBuildArgs: Set<string>;
  dockerignore: string[];
  /** Resolves `--from` values to a vertex (stage root or image source). */
  resolveFrom(value: string, current: StageState, ins: Instruction): Promise<Digest>;
  secrets: Set<string>;
  ignoreCache(stage: StageState): boolean;
  /** Network mode of a RUN without --network (the build's --network, else default). */
  defaultNetwork: NetworkMode;
}

export type Ins<K extends Instruction['kind']> = Extract<Instruction, { kind: K }>;

export function located(ctx: DispatchContext, ins: Instruction, code: ErrorCode, message: string): DockerfileError {
  return new DockerfileError(code, message, { file: ctx.file, startLine: ins.range.startLine, endLine: ins.range.endLine }, { source: ins.original });
}

/** Lookup for expansion: the latest ENV or valued ARG of a name (see StageState.stateEnv). */
export function scopeOf(stage: StageState): ExpandEnv {
  return (name) => stage.stateEnv.get(name) ?? stage.args.get(name);
}

function setStateEnv(stage: StageState, key: string, value: string): void {
  stage.stateEnv.delete(key);
  stage.stateEnv.set(key, value);
}

export function wrapExpand<T>(ctx: DispatchContext, ins: Instruction, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TsbuildError && err.code === 'ERR_TSBUILD_EXPAND') throw located(ctx, ins, err.code, err.message);
    throw err;
  }
}

export function word(ctx: DispatchContext, stage: StageState, ins: Instruction, text: string): string {
  return wrapExpand(ctx, ins, () => expandWord(text, scopeOf(stage), ctx.escape).word);
}

function syncEnv(stage: StageState): void {
  stage.config.Env = [...stage.env].map(([k, v]) => `${k}=${v}`);
}

function metaHistory(stage: StageState, createdBy: string): void {
  stage.history.push({ created_by: createdBy, comment: 'buildkit.dockerfile.v0', empty_layer: true });
}

export function layerHistory(stage: StageState, createdBy: string, vertex: Digest): void {
  stage.history.push({ created_by: createdBy, comment: 'buildkit.dockerfile.v0', vertex });
}

function vertexName(stage: StageState, ins: Instruction): string {
  const text = ins.original.replace(/\s+/g, ' ');
  return `[${stage.label} ${stage.step}/${stage.steps}] ${text.length > 120 ? `${text.slice(0, 117)}...` : text}`;
}

export function metaFor(ctx: DispatchContext, stage: StageState, ins: Instruction) {
  return {
    name: vertexName(stage, ins),
    stage: stage.label,
    location: { file: ctx.file, startLine: ins.range.startLine, endLine: ins.range.endLine },
    ...(ctx.ignoreCache(stage) ? { ignoreCache: true } : {}),
  };
}

/**
 * RUN's history prefix (`|N K=V ...`) as BuildKit 0.13 writes it: one entry per ARG instruction
 * of the stage, repeats included, each with the name's current value (state env first, so an
 * ENV set later shows its value; a valueless ARG shows `K=`).
 */
function runArgsShown(stage: StageState): string[] {
  return stage.argDecls.map((k) => `${k}=${stage.stateEnv.get(k) ?? stage.args.get(k) ?? ''}`);
}

export async function dispatch(ctx: DispatchContext, stage: StageState, ins: Instruction): Promise<void> {
  switch (ins.kind) {
    case 'arg':
      return dispatchArg(ctx, stage, ins);
    case 'env':
    case 'label':
      return dispatchPairs(ctx, stage, ins);
    case 'run':
      return dispatchRun(ctx, stage, ins);
    case 'cmd':
    case 'entrypoint':
      return dispatchCommand(stage, ins);
    case 'shell':
      stage.shell = ins.shell;
      stage.config.Shell = ins.shell;
      // Go's %v of a string slice: unquoted, space-separated.
      return metaHistory(stage, `SHELL [${ins.shell.join(' ')}]`);
    case 'workdir':
      return dispatchWorkdir(ctx, stage, ins);
    case 'user': {
      stage.user = word(ctx, stage, ins, ins.user);
      stage.config.User = stage.user;
      return metaHistory(stage, `USER ${stage.user}`);
    }
    case 'expose':
      return dispatchExpose(ctx, stage, ins);
    case 'volume': {
      const paths = ins.paths.map((p) => word(ctx, stage, ins, p));
      if (paths.some((p) => p === '')) throw located(ctx, ins, 'ERR_TSBUILD_INSTRUCTION_ARGS', 'VOLUME specified can not be an empty string');
      stage.config.Volumes = { ...(stage.config.Volumes ?? {}) };
      for (const p of paths) stage.config.Volumes[p] = {};
      return metaHistory(stage, `VOLUME [${paths.join(' ')}]`);
    }
    case 'stopsignal': {
      const signal = word(ctx, stage, ins, ins.signal);
      if (!isValidStopSignal(signal)) throw located(ctx, ins, 'ERR_TSBUILD_INSTRUCTION_ARGS', `invalid signal: ${signal}`);
      stage.config.StopSignal = signal;
      return metaHistory(stage, `STOPSIGNAL ${signal}`);
    }
    case 'healthcheck': {
      if (ins.none) stage.config.Healthcheck = { Test: ['NONE'] };
      else {
        // Zero values are left out, as BuildKit's omitempty fields drop them (`--retries=0`).
        stage.config.Healthcheck = {
          Test: ins.test,
          ...(ins.interval ? { Interval: ins.interval } : {}),
          ...(ins.timeout ? { Timeout: ins.timeout } : {}),
          ...(ins.startPeriod ? { StartPeriod: ins.startPeriod } : {}),
          ...(ins.startInterval ? { StartInterval: ins.startInterval } : {}),
          ...(ins.retries ? { Retries: ins.retries } : {}),
        };
      }
      return metaHistory(stage, formatHealthcheckHistory(stage.config.Healthcheck!));
    }
    case 'onbuild':
      // BuildKit records the trigger in the config only: ONBUILD adds no history entry.
      stage.config.OnBuild = [...(stage.config.OnBuild ?? []), ins.trigger];
      return;
    case 'maintainer':
      // BuildKit puts it in the image's top-level `author` field.
      stage.author = ins.name;
      return metaHistory(stage, `MAINTAINER ${ins.name}`);
    case 'copy':
    case 'add':
      return dispatchCopy(ctx, stage, ins);
    case 'from':
      throw new TsbuildError('ERR_TSBUILD_INTERNAL', 'FROM is handled by the planner');
  }
}

function dispatchArg(ctx: DispatchContext, stage: StageState, ins: Ins<'arg'>): void {
  const shown: string[] = [];
  for (const { key, value } of ins.args) {
    let v: string | undefined;
    const declared = value !== undefined ? word(ctx, stage, ins, value) : undefined;
    if (Object.hasOwn(ctx.buildArgs, key)) {
      v = ctx.buildArgs[key];
      ctx.usedBuildArgs.add(key);
    } else if (declared !== undefined) v = declared;
    else if (ctx.globalArgs.has(key)) v = ctx.globalArgs.get(key);
    else if (stage.args.has(key)) v = stage.args.get(key);
    else if (ctx.builtinArgs.has(key)) v = ctx.builtinArgs.get(key);
    stage.args.set(key, v);
    stage.argDecls.push(key);
    // Proxy args reach RUN through the proxy env (kept out of cache keys), not the state env.
    if (v !== undefined && !PROXY_ARGS.has(key)) setStateEnv(stage, key, v);
    shown.push(declared === undefined ? key : `${key}=${declared}`);
  }
  // BuildKit records every ARG in history as declared: the key, plus `=default` (expanded) when the
  // instruction has one. Values from --build-arg or a global ARG never show (BuildKit 0.13 lab:
  // `ARG G` with a global default and `ARG BD=x` with --build-arg BD=bd give `ARG G`, `ARG BD=x`).
  metaHistory(stage, `ARG ${shown.join(' ')}`);
}

function dispatchPairs(ctx: DispatchContext, stage: StageState, ins: Ins<'env' | 'label'>): void {
  // Every value sees the scope from before this instruction (`ENV a=1 b=$a` takes the old a).
  const expanded = ins.pairs.map((p) => [word(ctx, stage, ins, p.key), word(ctx, stage, ins, p.value)] as const);
  if (ins.kind === 'env') {
    for (const [k, v] of expanded) {
      if (k === '') throw located(ctx, ins, 'ERR_TSBUILD_INSTRUCTION_ARGS', 'ENV names can not be blank');
      // Re-setting a variable keeps its place in Env, as BuildKit's addEnv replaces in place.
      stage.env.set(k, v);
      setStateEnv(stage, k, v);
    }
    syncEnv(stage);
    return metaHistory(stage, `ENV ${expanded.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  }
  stage.config.Labels = { ...(stage.config.Labels ?? {}) };
  for (const [k, v] of expanded) stage.config.Labels[k] = v;
  return metaHistory(stage, `LABEL ${expanded.map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

function dispatchCommand(stage: StageState, ins: Ins<'cmd' | 'entrypoint'>): void {
  const args = ins.json ? ins.command : [...stage.shell, ins.command[0] ?? ''];
  if (ins.kind === 'cmd') {
    stage.config.Cmd = args;
    stage.cmdSet = true;
    // BuildKit marks every CMD as escaped (Docker's backward-compatible field), even on Linux;
    // ENTRYPOINT leaves it alone (lab: ENTRYPOINT alone gives no ArgsEscaped).
    stage.config.ArgsEscaped = true;
  } else {
    stage.config.Entrypoint = args;
    if (!stage.cmdSet) stage.config.Cmd = null;
  }
  metaHistory(stage, `${ins.kind.toUpperCase()} [${args.map(goQuote).join(' ')}]`);
}

/** Where BuildKit mounts the script of a `RUN <<EOF` whose body starts with `#!`. */
const HEREDOC_PIPES = '/dev/pipes';

/** RUN's argv (and any mount it needs): exec form as is; shell form through the stage's SHELL; heredocs as BuildKit runs them. */
function runArgv(ctx: DispatchContext, stage: StageState, ins: Ins<'run'>): { args: string[]; mounts: ExecMount[] } {
  if (ins.json) return { args: ins.command, mounts: [] };
  const text = ins.command[0] ?? '';
  const h = ins.heredocs;
  if (h.length === 1 && new RegExp(`^\\d*<<-?\\s*['"]?${escapeRe(h[0]!.name)}['"]?$`).test(text.trim())) {
    const doc = h[0]!;
    if (doc.content.startsWith('#!')) {
      // A script with a shebang is run as a file, so its interpreter is honoured: BuildKit writes
      // it (0755) into a scratch layer mounted read-only at /dev/pipes and runs that path.
      const file = ctx.graph.add(
        { kind: 'file', actions: [{ action: 'mkfile', path: `/${doc.name}`, mode: 0o755, data: doc.content }], user: '', platform: stage.platform },
        { name: 'preparing inline document', stage: stage.label },
      );
      return { args: [...stage.shell, `${HEREDOC_PIPES}/${doc.name}`], mounts: [{ type: 'bind', target: HEREDOC_PIPES, input: file, source: '/', readonly: true }] };
    }
    // `RUN <<EOF` alone: the body is the script.
    return { args: [...stage.shell, doc.content], mounts: [] };
  }
  if (h.length > 0) {
    // The shell reads the heredocs itself: pass the command with its bodies attached, each
    // body followed by its terminator and nothing after the last (BuildKit's exact text).
    return { args: [...stage.shell, `${text}${h.map((d) => `\n${d.content}${d.name}`).join('')}`], mounts: [] };
  }
  return { args: [...stage.shell, text], mounts: [] };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function dispatchRun(ctx: DispatchContext, stage: StageState, ins: Ins<'run'>): Promise<void> {
  const { args, mounts: heredocMounts } = runArgv(ctx, stage, ins);
  const shownArgs = runArgsShown(stage);
  const env = [...stage.stateEnv].map(([k, v]) => `${k}=${v}`);
  if (!stage.stateEnv.has('PATH')) env.unshift(`PATH=${DEFAULT_PATH}`);
  const mounts: ExecMount[] = [...heredocMounts];
  for (const raw of ins.mounts) {
    let spec;
    try {
      spec = parseMount(word(ctx, stage, ins, raw));
    } catch (err) {
      if (err instanceof DockerfileError) throw err;
      throw located(ctx, ins, 'ERR_TSBUILD_INSTRUCTION_FLAG', (err as Error).message);
    }
    mounts.push(await execMount(ctx, stage, ins, spec));
  }
  const network = (ins.network ? word(ctx, stage, ins, ins.network) : ctx.defaultNetwork) as NetworkMode;
  if (!['default', 'none', 'host'].includes(network)) throw located(ctx, ins, 'ERR_TSBUILD_INSTRUCTION_FLAG', `unsupported network mode "${network}"`);
  const digest = ctx.graph.add(
    {
      kind: 'exec',
      root: stage.root,
      args,
      env,
      cwd: stage.workdir,
      user: stage.user,
      network,
      security: ins.security === 'insecure' ? 'insecure' : 'sandbox',
      mounts,
      platform: stage.platform,
    },
    metaFor(ctx, stage, ins),
  );
  stage.root = digest;
  const prefix = shownArgs.length > 0 ? `|${shownArgs.length} ${shownArgs.join(' ')} ` : '';
  layerHistory(stage, `RUN ${prefix}${args.join(' ')} # buildkit`, digest);
}

async function execMount(ctx: DispatchContext, stage: StageState, ins: Instruction, m: ReturnType<typeof parseMount>): Promise<ExecMount> {
  const target = m.target !== undefined ? (path.posix.isAbsolute(m.target) ? m.target : path.posix.join(stage.workdir, m.target)) : undefined;
  switch (m.type) {
    case 'bind': {
      const input = m.from !== undefined ? await ctx.resolveFrom(m.from, stage, ins) : localSource(ctx, [m.source ?? '.']);
      return { type: 'bind', target: target!, input, source: m.source ?? '/', readonly: m.readonly ?? true };
    }
    case 'cache': {
      const input = m.from !== undefined ? await ctx.resolveFrom(m.from, stage, ins) : undefined;
      return {
        type: 'cache',
        target: target!,
        id: m.id ?? target!,
        sharing: m.sharing ?? 'shared',
        readonly: m.readonly ?? false,
        ...(input !== undefined ? { input, source: m.source ?? '/' } : {}),
        uid: m.uid ?? 0,
        gid: m.gid ?? 0,
        mode: m.mode ?? 0o755,
      };
    }
    case 'tmpfs':
      return { type: 'tmpfs', target: target!, size: m.size ?? 0 };
    case 'secret': {
      const id = m.id ?? path.posix.basename(m.target ?? '');
      ctx.secrets.add(id);
      const secretTarget = m.env !== undefined && m.target === undefined ? undefined : (target ?? `/run/secrets/${id}`);
      return {
        type: 'secret',
        id,
        ...(secretTarget !== undefined ? { target: secretTarget } : {}),
        ...(m.env !== undefined ? { env: m.env } : {}),
        required: m.required ?? false,
        uid: m.uid ?? 0,
        gid: m.gid ?? 0,
        mode: m.mode ?? 0o400,
      };
    }
    case 'ssh':
      return { type: 'ssh', id: m.id ?? 'default', target: target ?? '/run/buildkit/ssh_agent.0', required: m.required ?? false, uid: m.uid ?? 0, gid: m.gid ?? 0, mode: m.mode ?? 0o600 };
  }
}

/** A context source limited to the paths a consumer reads. */
export function localSource(ctx: DispatchContext, include: string[]): Digest {
  const cleaned = include.map((p) => path.posix.normalize(`/${p}`).slice(1) || '.');
  return ctx.graph.add({ kind: 'source.local', name: 'context', include: cleaned.includes('.') ? [] : cleaned, exclude: ctx.dockerignore }, { name: 'load build context' });
}

function dispatchWorkdir(ctx: DispatchContext, stage: StageState, ins: Ins<'workdir'>): void {
  const p = word(ctx, stage, ins, ins.path);
  stage.workdir = path.posix.resolve(stage.workdir, p);
  // BuildKit keeps an absolute path as written (`WORKDIR /app/` stays `/app/` in the config and
  // history) and joins a relative one onto the current dir, which cleans it.
  const shown = path.posix.isAbsolute(p) ? p : stage.workdir;
  stage.config.WorkingDir = shown;
  // BuildKit creates the directory (a layer) for every WORKDIR except `/`, which always exists.
  if (shown === '/') return metaHistory(stage, 'WORKDIR /');
  const digest = ctx.graph.add(
    { kind: 'file', root: stage.root, actions: [{ action: 'mkdir', path: stage.workdir, mode: 0o755, parents: true }], user: stage.user, platform: stage.platform },
    metaFor(ctx, stage, ins),
  );
  stage.root = digest;
  layerHistory(stage, `WORKDIR ${shown}`, digest);
}

function dispatchExpose(ctx: DispatchContext, stage: StageState, ins: Ins<'expose'>): void {
  const ports: string[] = [];
  for (const raw of ins.ports) {
    for (const p of wrapExpand(ctx, ins, () => expandWords(raw, scopeOf(stage), ctx.escape).words)) {
      const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
      const start = m ? Number(m[1]) : NaN;
      const end = m?.[2] !== undefined ? Number(m[2]) : start;
      if (!m || start < 1 || end > 65535 || end < start) throw located(ctx, ins, 'ERR_TSBUILD_INSTRUCTION_EXPOSE', `invalid port specification: "${p}"`);
      const proto = (m[3] ?? 'tcp').toLowerCase();
      for (let n = start; n <= end; n++) ports.push(`${n}/${proto}`);
    }
  }
  stage.config.ExposedPorts = { ...(stage.config.ExposedPorts ?? {}) };
  for (const p of ports) stage.config.ExposedPorts[p] = {};
  // Go's %v of a map prints its keys sorted.
  metaHistory(stage, `EXPOSE map[${[...new Set(ports)].sort().map((p) => `${p}:{}`).join(' ')}]`);
}
