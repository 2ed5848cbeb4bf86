/**
 * The services ops run against, assembled once per build by api.ts. Keeping them behind one
 * interface lets scheduling tests swap in small fakes while end-to-end tests use the real ones.
 */
import type { Stats } from 'node:fs';
import type { ContentStore } from '../../cache/types.js';
import type { HttpSourceOp, Platform, Vertex } from '../../graph/index.js';
import type { BuildContext } from '../../progress/index.js';
import type { Digest } from '../../util/digest.js';
import type { LayerRef, ResolvedBaseImage } from '../types.js';

export interface ActiveSnapshotLike {
  lower: string[];
  upper: string;
  work: string;
  /** overlay: upper/work over lower; copy (no overlayfs): upper is a full writable copy. */
  kind: 'overlay' | 'copy';
  dispose(): Promise<void>;
}

/** What commitLayer reports about the layer it made (for build records). */
export interface LayerStats {
  /** The step the layer is for (its layer goes into the image when the step is on the target's root chain). */
  readonly vertex?: Digest;
  /** Uncompressed tar size. */
  layerSize?: number;
  changes?: { added: number; changed: number; deleted: number };
  /** Set while the two above are still being measured (StepStats.measured). */
  measured?: Promise<void>;
}

export interface SolverEnvironment {
  stateRoot: string;
  content: ContentStore;
  /** Unpacks (once) and returns the layer dirs of a chain, TOP layer first (overlay order). */
  layerDirs(ctx: BuildContext, layers: LayerRef[]): Promise<string[]>;
  /** Where a layer lives unpacked (it may not exist); absent in environments without snapshots. */
  layerDir?(diffId: Digest): string;
  /** A writable snapshot over the given lower dirs (top first). */
  prepareSnapshot(lower: string[]): Promise<ActiveSnapshotLike>;
  /** Mounts a snapshot at a host path for file ops; returns the unmount function. */
  mountSnapshot(active: ActiveSnapshotLike, target: string): Promise<() => Promise<void>>;
  /** A read-only merged view of a layer chain at a host path, the layer dirs it merges (top first), and its release function. */
  mountReadOnly(ctx: BuildContext, layers: LayerRef[]): Promise<{ dir: string; lower: string[]; release(): Promise<void> }>;
  /** Turns a finished snapshot's changes into a stored layer (an overlay upper is kept as the unpacked layer). */
  commitLayer(ctx: BuildContext, active: ActiveSnapshotLike, stats?: LayerStats): Promise<LayerRef>;
  contextDirFor(name: string): string;
  /** A directory holding only the context entries `patterns` select, minus ignored files. */
  filteredContext(name: string, patterns: string[], options?: { copy?: boolean }): Promise<string>;
  /**
   * Where a COPY reads a local context: the context directory itself plus the paths it may see,
   * when that reads exactly what a filtered view would hold, else a filtered view (`view: true`,
   * the caller removes it).
   */
  contextForCopy(name: string, patterns: string[]): Promise<{ dir: string; visible?: ReadonlySet<string>; view: boolean; stat?: (rel: string) => Stats | undefined }>;
  /** Looks up a vertex of the graph being solved. */
  graphVertex(d: Digest): Vertex | undefined;
  /** .dockerignore patterns in effect for a local source. */
  excludeFor(name: string): string[];
  resolveImage(ctx: BuildContext, ref: string, platform: Platform, digest?: Digest): Promise<{ layers: LayerRef[]; image: ResolvedBaseImage }>;
  fetchHttp(ctx: BuildContext, op: HttpSourceOp, dir: string): Promise<void>;
  secrets: Map<string, Buffer>;
  /** Proxy variables from the environment/build args: injected into RUN, never into keys. */
  proxyEnv: string[];
  tmpDir?: string;
  onCleanup(fn: () => Promise<unknown>): void;
  /** The build is about to wait (a RUN's process started): deferred work may run now (idle-work.ts). */
  idle?(): void;
}
