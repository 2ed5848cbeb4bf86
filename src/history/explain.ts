/**
 * Why a step missed the cache: its record is compared with the most recent earlier record of
 * the same step (same Dockerfile path, same `<stage>/<position>` id), and each difference in
 * what its cache key is made of becomes one named cause. Values of variables are never shown,
 * only their names (records hold keyed hashes, not values).
 */
import type { ProgressWriter } from '../progress/index.js';
import type { Digest } from '../util/digest.js';
import { describeFileChanges, diffContextSummaries } from './context-summary.js';
import { iterateBuildRecords, type BuildRecord, type CacheMissCause, type ContextSummary, type StepRecord } from './record.js';

type LoadSummary = (digest: Digest) => Promise<ContextSummary | undefined>;

/** Fills `explain` on every miss of `record`, comparing with older records in the state root. */
export async function explainMisses(root: string, record: BuildRecord, loadSummary: LoadSummary): Promise<void> {
  const misses = record.steps.filter((s) => s.cache === 'miss');
  if (misses.length === 0) return;
  // Newest first, stopping as soon as every miss has its match: usually one record is read.
  const previous = new Map<StepRecord, { build: BuildRecord; step: StepRecord }>();
  for await (const build of iterateBuildRecords(root)) {
    if (build.id === record.id || build.startedAt > record.startedAt || build.dockerfile !== record.dockerfile) continue;
    for (const step of misses) {
      if (previous.has(step)) continue;
      const match = matchStep(build, step);
      if (match) previous.set(step, { build, step: match });
    }
    if (previous.size === misses.length) break;
  }
  for (const step of misses) step.explain = await explainStep(record, step, previous.get(step), loadSummary);
}

/**
 * The same step in an earlier build: the same instruction text in the same stage (nearest
 * position, so an instruction inserted above does not make every later step look rewritten),
 * else whatever stood at the same position (that instruction was edited).
 */
export function matchStep(build: BuildRecord, step: StepRecord): StepRecord | undefined {
  const sameText = build.steps.filter((s) => s.stage === step.stage && s.instruction === step.instruction);
  if (sameText.length > 0) return sameText.sort((a, b) => Math.abs(a.position - step.position) - Math.abs(b.position - step.position))[0];
  return build.steps.find((s) => s.id === step.id);
}

/** The causes of one miss. `previous` is the same step in the most recent earlier build. */
export async function explainStep(build: BuildRecord, step: StepRecord, previous: { build: BuildRecord; step: StepRecord } | undefined, loadSummary: LoadSummary): Promise<CacheMissCause[]> {
  if (build.noCache) return [{ kind: 'no-cache', text: '--no-cache was given' }];
  if (step.ignoreCache) return [{ kind: 'no-cache', text: `--no-cache-filter excludes stage ${step.stage}` }];
  if (!previous) return [{ kind: 'no-previous', text: 'no previous build of this step' }];
  const { build: pb, step: p } = previous;
  const from = { previousBuild: pb.id };
  if (p.cacheKey === step.cacheKey) {
    return [{ kind: 'evicted', text: `same cache key as in build ${pb.id}, but that result is no longer in the cache (pruned)`, ...from }];
  }
  const causes: CacheMissCause[] = [];
  if (p.instruction !== step.instruction) {
    causes.push({ kind: 'instruction', text: `instruction changed: was "${p.instruction}", now "${step.instruction}"`, ...from });
  } else if (p.network !== undefined && step.network !== undefined && p.network !== step.network) {
    causes.push({ kind: 'definition', text: `network mode changed: was ${p.network}, now ${step.network}`, ...from });
  } else if (p.definition !== step.definition) {
    causes.push({ kind: 'definition', text: 'step options changed (user, working directory, platform, mounts or flags)', ...from });
  }
  causes.push(...envCauses(p, step, from));
  causes.push(...(await contextCauses(p, step, from, loadSummary)));
  for (const [i, input] of step.inputs.entries()) {
    // The input in the same place (a parent that is now another step still is "the parent").
    const before = p.inputs[i]?.role === input.role ? p.inputs[i] : p.inputs.find((x) => x.role === input.role && x.ref === input.ref);
    if (!before || (before.key === input.key && before.ref === input.ref)) continue;
    if (input.ref.startsWith('image:')) {
      const image = input.ref.slice(6);
      causes.push({ kind: 'base-image', text: before.ref === input.ref ? `base image ${image} changed` : `parent changed: now the base image ${image}`, names: [input.ref], ...from });
    } else {
      const parent = build.steps.find((s) => s.id === input.ref);
      if (parent) causes.push({ kind: 'parent', text: `parent step changed: ${parent.name}`, names: [parent.id], ...from });
    }
  }
  if (causes.length === 0) causes.push({ kind: 'unknown', text: `cache key differs from build ${pb.id} for a reason the record does not show`, ...from });
  return causes;
}

function envCauses(p: StepRecord, step: StepRecord, from: { previousBuild: string }): CacheMissCause[] {
  if (!p.env || !step.env) return [];
  const out: CacheMissCause[] = [];
  const names = [...new Set([...Object.keys(p.env), ...Object.keys(step.env)])].sort();
  for (const name of names) {
    const a = p.env[name];
    const b = step.env[name];
    if (a === b) continue;
    const source = step.envSource?.[name] ?? p.envSource?.[name] ?? 'env';
    const kind = source === 'env' ? 'env' : 'build-arg';
    const label = source === 'build-arg' ? 'build arg' : source === 'arg' ? 'ARG' : 'ENV';
    const how = a === undefined ? 'added' : b === undefined ? 'removed' : 'changed';
    out.push({ kind, text: `${label} ${name} ${how}`, names: [name], ...from });
  }
  return out;
}

async function contextCauses(p: StepRecord, step: StepRecord, from: { previousBuild: string }, loadSummary: LoadSummary): Promise<CacheMissCause[]> {
  const out: CacheMissCause[] = [];
  for (const ref of step.context ?? []) {
    const key = JSON.stringify(ref.patterns);
    const before = (p.context ?? []).find((r) => JSON.stringify(r.patterns) === key);
    if (!before || before.digest === ref.digest) continue;
    const [a, b] = await Promise.all([loadSummary(before.digest), loadSummary(ref.digest)]);
    if (!a || !b) {
      out.push({ kind: 'context', text: `context files changed (${ref.patterns.join(' ')}; the earlier file list is no longer recorded)`, ...from });
      continue;
    }
    const files = diffContextSummaries(a, b);
    out.push({ kind: 'context', text: `context files changed: ${describeFileChanges(files)}`, files, ...from });
  }
  return out;
}

/** Emits one `vertex.explain` event per miss of a record (for `build --explain`). */
export function emitExplanations(progress: ProgressWriter, record: BuildRecord): void {
  for (const s of record.steps) {
    if (!s.explain) continue;
    progress.emit({ type: 'vertex.explain', time: Date.now(), vertex: s.vertex, name: s.name, causes: s.explain.map((c) => ({ kind: c.kind, text: c.text })) });
  }
}
