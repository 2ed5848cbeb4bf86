/**
 * The build graph: the only vocabulary the planner (frontend) and the solver share, like
 * BuildKit's LLB. It is plain, JSON-serializable data. An op's identity is the digest of its
 * canonical JSON (see digest.ts); metadata such as descriptions and source locations lives
 * beside the op and never changes that identity.
 */
import type { Digest } from '../util/digest.js';

export type { Digest };

/** OCI platform. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** Where an op came from, for progress and error messages. Not part of the op digest. */
export interface OpLocation {
  file: string;
  startLine: number;
  endLine: number;
}

/** A filesystem input of an op: the output of another vertex. */
export type InputRef = Digest;

// ---------------------------------------------------------------------------------- sources

/** A base image. `ref` is fully normalized (docker.io/library/busybox:latest). */
export interface ImageSourceOp {
  kind: 'source.image';
  ref: string;
  /** Manifest digest when known at plan time (pinned by @digest or resolved); part of identity. */
  digest?: Digest;
  platform: Platform;
}

/** The local build context (or a named local context), limited to what the build reads. */
export interface LocalSourceOp {
  kind: 'source.local';
  /** `context` for the main build context; other names for named contexts. */
  name: string;
  /** Paths (patterns) the consumers read; empty = everything. */
  include: string[];
  /** .dockerignore patterns in effect. */
  exclude: string[];
}

/** A remote file for ADD <url>. */
export interface HttpSourceOp {
  kind: 'source.http';
  url: string;
  checksum?: Digest;
  /** File name to store it under (from the URL path or Content-Disposition). */
  filename?: string;
  chmod?: number;
}

/** The empty filesystem (`FROM scratch`). Its digest is a fixed constant. */
export interface ScratchOp {
  kind: 'source.scratch';
}

// ---------------------------------------------------------------------------------- exec

export type NetworkMode = 'default' | 'none' | 'host';

export interface BindMount {
  type: 'bind';
  target: string;
  /** Input providing the files; undefined = the build context is not implied, use scratch. */
  input: InputRef;
  /** Path inside the input to mount. */
  source: string;
  readonly: boolean;
}

export interface CacheMount {
  type: 'cache';
  target: string;
  /** Cache identity (defaults to the target path). */
  id: string;
  sharing: 'shared' | 'private' | 'locked';
  readonly: boolean;
  /** Optional seed content. */
  input?: InputRef;
  source?: string;
  uid: number;
  gid: number;
  mode: number;
}

export interface TmpfsMount {
  type: 'tmpfs';
  target: string;
  /** Size limit in bytes; 0 = unlimited. */
  size: number;
}

export interface SecretMount {
  type: 'secret';
  id: string;
  /** Mount path; defaults to /run/secrets/<id>. Undefined when only exposed as env. */
  target?: string;
  /** Environment variable to expose the secret as. */
  env?: string;
  required: boolean;
  uid: number;
  gid: number;
  mode: number;
}

export interface SshMount {
  type: 'ssh';
  id: string;
  target: string;
  required: boolean;
  uid: number;
  gid: number;
  mode: number;
}

export type ExecMount = BindMount | CacheMount | TmpfsMount | SecretMount | SshMount;

/** A RUN step: runs `args` with `root` as its root filesystem; the new root is its output. */
export interface ExecOp {
  kind: 'exec';
  root: InputRef;
  args: string[];
  /** KEY=VALUE in order. Proxy variables are not here (they are solve-time, not identity). */
  env: string[];
  cwd: string;
  /** `name`, `uid`, `name:group` or `uid:gid`, resolved against the root's /etc/passwd at run time. */
  user: string;
  network: NetworkMode;
  security: 'sandbox' | 'insecure';
  mounts: ExecMount[];
  platform: Platform;
}

// ---------------------------------------------------------------------------------- file

export interface Chown {
  /** User and group as written (names resolved in the destination's passwd/group at run time). */
  user: string;
  group?: string;
}

export interface CopyAction {
  action: 'copy';
  /** Input holding the sources (a stage, image or local source). */
  from: InputRef;
  /** Source paths/patterns relative to the input root (context-relative for local sources). */
  src: string[];
  dest: string;
  chown?: Chown;
  /** Octal mode as a number, or a symbolic mode string (`u+x,g-w`). */
  chmod?: number | string;
  /** `--link`: the layer is independent of the destination's existing content. */
  link: boolean;
  exclude: string[];
  parents: boolean;
  /** ADD: extract local tar archives. */
  unpack: boolean;
  /** Wildcards allowed in src (always true for Dockerfile COPY/ADD). */
  allowWildcard: boolean;
  /** Whether a wildcard that matches nothing is an error (false) or silently copies nothing. */
  allowEmptyWildcard: boolean;
}

export interface MkdirAction {
  action: 'mkdir';
  path: string;
  mode: number;
  parents: boolean;
  /** Undefined: the op's user (WORKDIR); an empty user: no chown at all (what the kernel gives root). */
  chown?: Chown;
}

export interface MkfileAction {
  action: 'mkfile';
  path: string;
  mode: number;
  /** File contents (heredoc body) as UTF-8 text. */
  data: string;
  chown?: Chown;
}

export interface RmAction {
  action: 'rm';
  path: string;
  allowNotFound: boolean;
}

export type FileAction = CopyAction | MkdirAction | MkfileAction | RmAction;

/** COPY/ADD/WORKDIR-mkdir: applies actions in order on top of `root` (or scratch if undefined). */
export interface FileOp {
  kind: 'file';
  root?: InputRef;
  actions: FileAction[];
  /** The user COPY --chown defaults resolve against and WORKDIR mkdir uses. */
  user: string;
  platform: Platform;
}

export type Op = ImageSourceOp | LocalSourceOp | HttpSourceOp | ScratchOp | ExecOp | FileOp;
export type OpKind = Op['kind'];

/** Metadata kept beside an op; never part of its digest. */
export interface VertexMeta {
  /** Human name, e.g. `[build 3/5] RUN make`. */
  name: string;
  stage?: string;
  location?: OpLocation;
  /** Whether --no-cache / --no-cache-filter applies to this vertex. */
  ignoreCache?: boolean;
}

export interface Vertex {
  digest: Digest;
  op: Op;
  /** Digests of the vertices this one reads (derived from the op; kept for graph walks). */
  inputs: Digest[];
  meta: VertexMeta;
}

// ---------------------------------------------------------------------------------- image config

export interface HealthConfig {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The OCI/Docker image config `config` object, with Docker's field names. */
export interface ImageRunConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Volumes?: Record<string, Record<string, never>>;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: HealthConfig;
  OnBuild?: string[] | null;
  Shell?: string[];
  ArgsEscaped?: boolean;
}

export interface HistoryEntry {
  created_by: string;
  comment?: string;
  empty_layer?: boolean;
  /** The vertex whose output diff is this history entry's layer (absent for empty_layer). */
  vertex?: Digest;
}

/** What a stage produces: a filesystem (the root vertex) and the image metadata around it. */
export interface StageResult {
  name: string;
  index: number;
  /** The vertex whose output is the stage's final root filesystem. */
  root: Digest;
  /** The base image, when the stage starts FROM an image (its layers come first). */
  base?: { ref: string; vertex: Digest };
  platform: Platform;
  config: ImageRunConfig;
  /** History for the layers this stage adds on top of its base (base history comes from the base). */
  history: HistoryEntry[];
  /** MAINTAINER: the image's top-level `author` (else the base image's). */
  author?: string;
}

/** The planner's output and the solver's input. */
export interface BuildGraph {
  /** Format version of this structure. */
  version: 1;
  vertices: Record<Digest, Vertex>;
  /** The stage that --target selected (or the last one). */
  target: StageResult;
  /** Every stage the target needs, for insight and multi-output tools. */
  stages: StageResult[];
  /** Build args given but never consumed (for the unused-build-arg warning). */
  unusedBuildArgs: string[];
  /** Secrets/ssh ids referenced by RUN mounts (solver checks these before starting). */
  secrets: string[];
  /** Lint-style findings of the planner (not errors). */
  warnings: PlanWarning[];
}

export interface PlanWarning {
  rule: string;
  message: string;
  file: string;
  line: number;
}
