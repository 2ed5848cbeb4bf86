import type { Digest, HistoryEntry, ImageRunConfig, NetworkMode, Platform, Vertex, VertexMeta, Op } from '../graph/index.js';
import type { DockerfileAst } from '../parser/index.js';

/** A base image as the planner needs it: its identity and its run config. */
export interface ResolvedImage {
  ref: string;
  digest?: Digest;
  config: ImageRunConfig;
}

export interface PlanOptions {
  ast: DockerfileAst;
  /** Stage to build (name or index); default: the last stage. */
  target?: string;
  buildArgs?: Record<string, string>;
  /** Target platform (default linux/amd64). */
  platform?: Platform;
  /** Platform of the machine running the build (default: same as platform). */
  buildPlatform?: Platform;
  /** .dockerignore patterns, recorded on local sources. */
  dockerignore?: string[];
  noCache?: boolean;
  noCacheFilter?: string[];
  /**
   * The build's `--network`: the mode of every RUN without its own --network. Part of the op
   * (and so of its cache key), as in BuildKit's LLB.
   */
  network?: NetworkMode;
  /** Looks up a base image's config (local store or registry). Undefined result = unknown image. */
  resolveImage?: (ref: string, platform: Platform) => Promise<ResolvedImage | undefined>;
}

/** The planner's running state for one stage. */
export interface StageState {
  name: string;
  /** Lower-cased stage name used for lookups, or undefined for unnamed stages. */
  key?: string;
  index: number;
  label: string;
  root: Digest;
  base?: { ref: string; vertex: Digest };
  platform: Platform;
  config: ImageRunConfig;
  /** ENV in effect (ordered). */
  env: Map<string, string>;
  /** ARGs declared in this stage: name -> value (undefined = declared without any value). */
  args: Map<string, string | undefined>;
  /**
   * What BuildKit 0.13 keeps as the LLB state's env: ENV and valued ARGs, the latest write winning
   * (a re-set moves to the end). It is what RUN sees and what words expand against, so an ARG
   * declared after an ENV of the same name overrides it there (never in the image's Env), and a
   * stage built FROM another stage inherits the parent's ARG values (Docker 26 lab, both).
   */
  stateEnv: Map<string, string>;
  /** Names of this stage's ARG instructions in order, repeats included (RUN's history prefix). */
  argDecls: string[];
  history: HistoryEntry[];
  shell: string[];
  workdir: string;
  user: string;
  /** MAINTAINER's value: the image config's top-level `author`. */
  author?: string;
  /** Whether CMD was set in this stage (ENTRYPOINT resets an inherited CMD only). */
  cmdSet: boolean;
  step: number;
  steps: number;
}

export interface GraphBuilder {
  vertices: Record<Digest, Vertex>;
  add(op: Op, meta: VertexMeta): Digest;
}
