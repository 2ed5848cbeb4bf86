/**
 * What the solver produces per vertex and for a whole build. Results are references into the
 * state root (layer blobs in the content store, unpacked layer dirs in snapshots/), never copies.
 */
import type { Digest } from '../util/digest.js';
import type { LayerRef } from './cache-index.js';

export type { LayerRef };

/** The base image behind a source.image vertex. */
export interface ResolvedBaseImage {
  ref: string;
  manifestDigest: Digest;
  /** The full image config JSON (architecture, os, config, rootfs, history). */
  config: Record<string, unknown>;
}

export interface VertexResult {
  /** The vertex's cache key. */
  key: Digest;
  /** The output filesystem as a layer chain, bottom first (empty for scratch). */
  layers: LayerRef[];
  /** For source.local / source.http: a host directory holding the files. */
  dir?: string;
  /** For source.image: the image it came from. */
  image?: ResolvedBaseImage;
  /** Whether this result came from the cache rather than being executed in this build. */
  cached: boolean;
  /** When this result was first produced (kept in the cache record, so rebuilds are stable). */
  created?: string;
}

/** Per-step facts for build records and insight. */
export interface StepStats {
  vertex: Digest;
  name: string;
  cached: boolean;
  startedAt?: number;
  endedAt?: number;
  /** Bytes and files read from the build context. */
  contextBytes?: number;
  contextFiles?: number;
  /** The layer this step added, if any. */
  layer?: LayerRef;
  /** Uncompressed size of that layer's tar (executed steps). */
  layerSize?: number;
  /** Entries the layer adds, changes and deletes relative to its parent (executed steps). */
  changes?: { added: number; changed: number; deleted: number };
  /**
   * Set while layerSize and changes are still being measured: the walk of a committed layer waits
   * for a moment the build only waits (solver/idle-work.ts). Await it before reading those two.
   */
  measured?: Promise<void>;
  /** CPU ms of child processes that ended during the step (RUN: runc and the container). */
  cpuMs?: number;
  /** CPU ms of the tsbuild process during the step (process-wide). */
  hostCpuMs?: number;
}

export interface SolveResult {
  target: VertexResult;
  /** Results of every vertex that was resolved (cached or executed), by vertex digest. */
  results: Map<Digest, VertexResult>;
  steps: StepStats[];
  /** When a vertex's result was produced: this build, or its cache record (also for vertices a cache hit skipped). */
  createdOf(vertex: Digest): Promise<string | undefined>;
  /** The cache key of any vertex of the graph (also for vertices a cache hit skipped). */
  keyOf(vertex: Digest): Promise<Digest>;
}
