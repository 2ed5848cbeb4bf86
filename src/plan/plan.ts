/**
 * planBuild: typed instructions -> BuildGraph. Splits the file into global ARGs and stages,
 * finds the stages the target needs (others are never dispatched, so a broken unused stage
 * cannot fail the build), resolves base images, runs ONBUILD triggers, and dispatches each
 * instruction. Pure apart from the injected image resolver.
 */
import { DockerfileError, TsbuildError } from '../errors/index.js';
import { createVertex, type BuildGraph, type Op, type PlanWarning, type Platform, type StageResult, type Vertex, type VertexMeta } from '../graph/index.js';
import { expandWord } from '../parser/expand.js';
import { parseDockerfile } from '../parser/index.js';
import { parseInstruction, type Instruction } from '../parser/instructions/index.js';
import type { Digest } from '../util/digest.js';
import { DEFAULT_PATH, dispatch, located, PROXY_ARGS, type DispatchContext } from './dispatch.js';
import { normalizeReference } from '../oci/reference.js';
import type { GraphBuilder, PlanOptions, StageState } from './types.js';

interface StageDef {
  index: number;
  from: Extract<Instruction, { kind: 'from' }>;
  name?: string;
  key?: string;
  instructions: Instruction[];
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

function platformArgs(prefix: 'TARGET' | 'BUILD', p: Platform): Array<[string, string]> {
  return [
    [`${prefix}PLATFORM`, `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`],
    [`${prefix}OS`, p.os],
    [`${prefix}ARCH`, p.architecture],
    [`${prefix}VARIANT`, p.variant ?? ''],
  ];
}

function createGraphBuilder(): GraphBuilder {
  const vertices: Record<Digest, Vertex> = {};
  return {
    vertices,
    add(op: Op, meta: VertexMeta) {
      const v = createVertex(op, meta);
      // Identical ops deduplicate: the first description wins.
      if (!vertices[v.digest]) vertices[v.digest] = v;
      return v.digest;
    },
  };
}

export async function planBuild(options: PlanOptions): Promise<BuildGraph> {
  const { ast } = options;
  const file = ast.file;
  const platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
  const buildPlatform = options.buildPlatform ?? platform;
  const buildArgs = options.buildArgs ?? {};
  const instructions = ast.instructions.map((n) => parseInstruction(n, file));

  // Global ARGs, then stages.
  const globalDecls: Array<Extract<Instruction, { kind: 'arg' }>> = [];
  const stages: StageDef[] = [];
  for (const ins of instructions) {
    if (ins.kind === 'from') {
      stages.push({ index: stages.length, from: ins, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.kind !== 'arg') {
        throw new DockerfileError('ERR_TSBUILD_STAGE_NO_FROM', `no build stage in current context: ${ins.original.split(/\s/)[0]} before the first FROM`, {
          file,
          startLine: ins.range.startLine,
          endLine: ins.range.endLine,
        });
      }
      globalDecls.push(ins);
    } else stages.at(-1)!.instructions.push(ins);
  }
  if (stages.length === 0) {
    throw new DockerfileError('ERR_TSBUILD_STAGE_NO_FROM', 'the Dockerfile has no FROM instruction', { file, startLine: 1, endLine: 1 });
  }

  const usedBuildArgs = new Set<string>();
  const builtins = new Map<string, string>([...platformArgs('TARGET', platform), ...platformArgs('BUILD', buildPlatform)]);
  const globalArgs = new Map<string, string | undefined>();
  const globalScope = (name: string): string | undefined => globalArgs.get(name) ?? builtins.get(name);
  for (const decl of globalDecls) {
    for (const { key, value } of decl.args) {
      if (Object.hasOwn(buildArgs, key)) {
        globalArgs.set(key, buildArgs[key]);
        usedBuildArgs.add(key);
      } else if (value !== undefined) {
        globalArgs.set(key, expandIn(file, decl, value, globalScope, ast.escapeChar));
      } else globalArgs.set(key, globalArgs.get(key));
    }
  }

  // Stage names.
  const warnings: PlanWarning[] = [];
  const byKey = new Map<string, StageDef>();
  for (const s of stages) {
    if (s.from.stageName === undefined) continue;
    const key = s.from.stageName.toLowerCase();
    const where = { file, startLine: s.from.range.startLine, endLine: s.from.range.endLine };
    if (/^\d+$/.test(key)) throw new DockerfileError('ERR_TSBUILD_STAGE_NAME', `invalid name for build stage: "${s.from.stageName}": a number would be read as a stage index`, where);
    if (!STAGE_NAME.test(key)) {
      // BuildKit refuses these (checked against Docker 26): a name must start with a letter.
      throw new DockerfileError('ERR_TSBUILD_STAGE_NAME', `invalid name for build stage: "${s.from.stageName}", name can't start with a number or contain symbols`, where, {
        hint: "start the name with a letter and use only letters, digits, '-', '_' and '.'",
      });
    }
    if (key === 'scratch' || key === 'context') throw new DockerfileError('ERR_TSBUILD_STAGE_NAME', `"${key}" is a reserved name and cannot be a stage name`, where);
    if (byKey.has(key)) throw new DockerfileError('ERR_TSBUILD_STAGE_NAME', `duplicate stage name "${s.from.stageName}"`, where);
    s.name = s.from.stageName;
    s.key = key;
    byKey.set(key, s);
  }

  // Target.
  let target = stages.at(-1)!;
  if (options.target !== undefined) {
    const t = byKey.get(options.target.toLowerCase()) ?? (/^\d+$/.test(options.target) ? stages[Number(options.target)] : undefined);
    if (!t) throw new TsbuildError('ERR_TSBUILD_TARGET_NOT_FOUND', `target stage "${options.target}" could not be found`);
    target = t;
  }

  /** Finds a stage named by a FROM/--from value as seen from `current`. */
  const stageRef = (value: string, current: StageDef, ins: Instruction): StageDef | undefined => {
    const named = byKey.get(value.toLowerCase());
    const indexed = /^\d+$/.test(value) ? stages[Number(value)] : undefined;
    const s = named ?? indexed;
    const where = { file, startLine: ins.range.startLine, endLine: ins.range.endLine };
    if (/^\d+$/.test(value) && !indexed) throw new DockerfileError('ERR_TSBUILD_STAGE_NOT_FOUND', `invalid stage index ${value}: there are ${stages.length} stages`, where);
    if (!s) return undefined;
    if (s === current) throw new DockerfileError('ERR_TSBUILD_STAGE_CYCLE', `circular dependency detected on stage: ${value}`, where);
    if (s.index > current.index) throw new DockerfileError('ERR_TSBUILD_STAGE_NOT_FOUND', `stage "${value}" is defined after the stage that uses it`, where);
    return s;
  };

  // Reachability, from a cheap scan of FROM / --from references (expanded with global args).
  const depsOf = (s: StageDef): StageDef[] => {
    const out: StageDef[] = [];
    const refs: Array<[string, Instruction]> = [[s.from.image, s.from]];
    for (const ins of s.instructions) {
      if (ins.kind === 'copy' && ins.from !== undefined) refs.push([ins.from, ins]);
      if (ins.kind === 'run') for (const m of ins.mounts) for (const f of /(?:^|,)from=([^,]+)/.exec(m)?.slice(1) ?? []) refs.push([f, ins]);
    }
    for (const [raw, ins] of refs) {
      let value = raw;
      try {
        value = expandWord(raw, (n) => buildArgs[n] ?? globalScope(n), ast.escapeChar).word;
      } catch {
        // Left to dispatch, which reports it with the stage's own scope.
      }
      const dep = stageRef(value, s, ins);
      if (dep) out.push(dep);
    }
    return out;
  };
  const reachable = new Set<StageDef>();
  const visit = (s: StageDef): void => {
    if (reachable.has(s)) return;
    reachable.add(s);
    depsOf(s).forEach(visit);
  };
  visit(target);

  const graph = createGraphBuilder();
  const secrets = new Set<string>();
  const done = new Map<StageDef, StageState>();
  const noCacheFilter = new Set((options.noCacheFilter ?? []).map((s) => s.toLowerCase()));
  const imageVertex = async (ref: string, p: Platform): Promise<{ digest: Digest; ref: string; config: NonNullable<Awaited<ReturnType<NonNullable<PlanOptions['resolveImage']>>>>['config'] }> => {
    const resolved = await options.resolveImage?.(ref, p);
    const digest = graph.add({ kind: 'source.image', ref, ...(resolved?.digest ? { digest: resolved.digest } : {}), platform: p }, { name: `[internal] load metadata for ${ref}` });
    return { digest, ref, config: resolved?.config ?? {} };
  };

  const ctx: DispatchContext = {
    file,
    escape: ast.escapeChar,
    graph,
    buildArgs,
    globalArgs,
    builtinArgs: builtins,
    usedBuildArgs,
    dockerignore: options.dockerignore ?? [],
    secrets,
    defaultNetwork: options.network ?? 'default',
    ignoreCache: (stage) => options.noCache === true || (stage.key !== undefined && noCacheFilter.has(stage.key)) || noCacheFilter.has(String(stage.index)),
    async resolveFrom(value, current, ins) {
      const def = stages[current.index]!;
      const dep = stageRef(value, def, ins);
      if (dep) {
        const st = done.get(dep);
        if (!st) throw located(ctx, ins, 'ERR_TSBUILD_STAGE_NOT_FOUND', `stage "${value}" was not built before it is used`);
        return st.root;
      }
      let ref: string;
      try {
        ref = normalizeReference(value);
      } catch (err) {
        throw located(ctx, ins, 'ERR_TSBUILD_STAGE_NOT_FOUND', `"${value}" is neither a build stage nor a valid image reference: ${(err as Error).message}`);
      }
      return (await imageVertex(ref, current.platform)).digest;
    },
  };

  for (const def of stages) {
    if (!reachable.has(def)) continue;
    const from = def.from;
    const where = { file, startLine: from.range.startLine, endLine: from.range.endLine };
    // FROM sees only global ARGs (with --build-arg applied) and the predefined platform args.
    const fromScope = globalScope;
    const imageName = expandIn(file, from, from.image, fromScope, ast.escapeChar);
    if (imageName === '') throw new DockerfileError('ERR_TSBUILD_INSTRUCTION_ARGS', `base name (${from.image}) should not be blank`, where);
    const stagePlatform = from.platform !== undefined ? parsePlatform(expandIn(file, from, from.platform, fromScope, ast.escapeChar), where) : platform;
    const label = def.name ?? `stage-${def.index}`;
    const steps = 1 + def.instructions.filter((i) => ['run', 'copy', 'add', 'workdir'].includes(i.kind)).length;
    let state: StageState;
    const parent = stageRef(imageName, def, from);
    if (parent) {
      const p = done.get(parent)!;
      state = {
        ...p,
        name: label,
        ...(def.key !== undefined ? { key: def.key } : { key: undefined }),
        index: def.index,
        label,
        config: structuredClone(p.config),
        env: new Map(p.env),
        args: new Map(),
        stateEnv: new Map(p.stateEnv),
        argDecls: [],
        history: [...p.history],
        cmdSet: false,
        step: 1,
        steps,
      };
    } else {
      let root: Digest;
      let config = {};
      let base: StageState['base'];
      if (imageName.toLowerCase() === 'scratch') {
        root = graph.add({ kind: 'source.scratch' }, { name: 'scratch' });
        // BuildKit's empty image config has WorkingDir "/" (and PATH, added below for every stage).
        config = { WorkingDir: '/' };
      } else {
        let ref: string;
        try {
          ref = normalizeReference(imageName);
        } catch (err) {
          throw new DockerfileError('ERR_TSBUILD_REFERENCE_INVALID', (err as Error).message, where);
        }
        const img = await imageVertex(ref, stagePlatform);
        root = img.digest;
        config = structuredClone(img.config);
        base = { ref, vertex: root };
      }
      const env = new Map<string, string>();
      for (const kv of (config as { Env?: string[] }).Env ?? []) {
        const eq = kv.indexOf('=');
        env.set(eq === -1 ? kv : kv.slice(0, eq), eq === -1 ? '' : kv.slice(eq + 1));
      }
      // BuildKit gives every image a PATH: the base's, or the default one.
      if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
      const c = config as StageState['config'];
      state = {
        name: label,
        ...(def.key !== undefined ? { key: def.key } : {}),
        index: def.index,
        label,
        root,
        ...(base ? { base } : {}),
        platform: stagePlatform,
        config: { ...c, Env: [...env].map(([k, v]) => `${k}=${v}`) },
        env,
        args: new Map(),
        stateEnv: new Map(env),
        argDecls: [],
        history: [],
        shell: c.Shell ?? ['/bin/sh', '-c'],
        workdir: c.WorkingDir || '/',
        user: c.User ?? '',
        cmdSet: false,
        step: 1,
        steps,
      };
    }
    const triggers = state.config.OnBuild ?? [];
    if (triggers.length > 0) {
      state.config.OnBuild = null;
      for (const trigger of triggers) {
        const sub = parseDockerfile(trigger, { file: `${file} (ONBUILD of ${imageName})` });
        for (const node of sub.instructions) {
          const ins = parseInstruction(node, file);
          const at = { ...ins, range: from.range };
          if (['run', 'copy', 'add', 'workdir'].includes(ins.kind)) state.step++;
          await dispatch(ctx, state, at);
        }
      }
    }
    for (const ins of def.instructions) {
      if (['run', 'copy', 'add', 'workdir'].includes(ins.kind)) state.step++;
      await dispatch(ctx, state, ins);
    }
    done.set(def, state);
  }

  const toResult = (s: StageState): StageResult => ({
    name: s.label,
    index: s.index,
    root: s.root,
    ...(s.base ? { base: s.base } : {}),
    platform: s.platform,
    config: s.config,
    history: s.history,
    ...(s.author !== undefined ? { author: s.author } : {}),
  });
  const unused = Object.keys(buildArgs).filter((k) => !usedBuildArgs.has(k) && !PROXY_ARGS.has(k) && !builtins.has(k));
  return {
    version: 1,
    vertices: pruneUnreferenced(graph.vertices, [...done.values()].map((s) => s.root)),
    target: toResult(done.get(target)!),
    stages: [...done.values()].map(toResult),
    unusedBuildArgs: unused,
    secrets: [...secrets],
    warnings,
  };
}

function expandIn(file: string, ins: Instruction, text: string, env: (n: string) => string | undefined, escape: '\\' | '`'): string {
  try {
    return expandWord(text, env, escape).word;
  } catch (err) {
    if (err instanceof TsbuildError) throw new DockerfileError(err.code, err.message, { file, startLine: ins.range.startLine, endLine: ins.range.endLine }, { source: ins.original });
    throw err;
  }
}

function parsePlatform(value: string, where: { file: string; startLine: number; endLine: number }): Platform {
  const [os, architecture, variant] = value.split('/');
  if (!os || !architecture) throw new DockerfileError('ERR_TSBUILD_PLATFORM', `invalid platform "${value}"`, where);
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** Keeps only vertices reachable from the given roots (dedupe can orphan nothing, but ONBUILD may). */
function pruneUnreferenced(vertices: Record<Digest, Vertex>, roots: Digest[]): Record<Digest, Vertex> {
  const keep: Record<Digest, Vertex> = {};
  const visit = (d: Digest): void => {
    if (keep[d]) return;
    const v = vertices[d];
    if (!v) return;
    keep[d] = v;
    v.inputs.forEach(visit);
  };
  roots.forEach(visit);
  return keep;
}
