/**
 * COPY and ADD: one FileOp on the stage root whose actions read from the build context (a
 * `source.local` limited to the paths read), another stage or image (`--from`), an HTTP source
 * (ADD <url>) or heredoc bodies (mkfile), with the history text BuildKit writes.
 */
import path from 'node:path';
import type { Chown, CopyAction, Digest, FileAction } from '../graph/index.js';
import { expandWord, type ExpandEnv } from '../parser/expand.js';
import type { Heredoc } from '../parser/index.js';
import { layerHistory, localSource, located, metaFor, scopeOf, word, wrapExpand, type DispatchContext, type Ins } from './dispatch.js';
import type { StageState } from './types.js';

function parseChown(value: string): Chown {
  const colon = value.indexOf(':');
  return colon === -1 ? { user: value } : { user: value.slice(0, colon), group: value.slice(colon + 1) };
}

function parseChmod(value: string): number | string {
  return /^[0-7]{3,4}$/.test(value) ? parseInt(value, 8) : value;
}

const URL_RE = /^https?:\/\//i;

/** Plans one COPY or ADD instruction. */
export async function dispatchCopy(ctx: DispatchContext, stage: StageState, ins: Ins<'copy' | 'add'>): Promise<void> {
  const scope = scopeOf(stage);
  const expand = (t: string) => word(ctx, stage, ins, t);
  const rawDest = expand(ins.dest);
  let dest = path.posix.resolve(stage.workdir, rawDest);
  if ((rawDest.endsWith('/') || rawDest === '.' || rawDest.endsWith('/.')) && !dest.endsWith('/')) dest += '/';
  const chownText = ins.chown !== undefined ? expand(ins.chown) : undefined;
  const chmodText = ins.chmod !== undefined ? expand(ins.chmod) : undefined;
  const chown = chownText !== undefined ? parseChown(chownText) : undefined;
  const chmod = chmodText !== undefined ? parseChmod(chmodText) : undefined;
  const shownPaths: string[] = [];
  const shownHeredocs: string[] = [];
  const exclude = ins.exclude.map(expand);
  const heredocNames = new Map<string, Heredoc>(ins.heredocs.map((h) => [h.name, h]));
  const actions: FileAction[] = [];
  // A wildcard that matches nothing copies nothing, as in BuildKit's dockerfile frontend (AllowEmptyWildcard).
  const common = { ...(chown ? { chown } : {}), ...(chmod !== undefined ? { chmod } : {}), link: ins.link, exclude, parents: ins.parents, allowWildcard: true, allowEmptyWildcard: true };

  const fromStage = ins.kind === 'copy' && ins.from !== undefined ? await ctx.resolveFrom(expand(ins.from), stage, ins) : undefined;
  const localSources: string[] = [];
  for (const raw of ins.sources) {
    const heredoc = /^\d*<<-?(.+)$/.exec(raw);
    const h = heredoc ? heredocNames.get(heredoc[1]!.replace(/^["']|["']$/g, '')) : undefined;
    if (h) {
      const content = h.expand ? wrapExpand(ctx, ins, () => expandHeredoc(h.content, scope, ctx.escape)) : h.content;
      const file = dest.endsWith('/') ? path.posix.join(dest, h.name) : dest;
      // BuildKit copies heredoc files like any source (CreateDestPath): missing destination dirs
      // are made, owned by --chown, else left as made (root's, or a set-group-ID parent's group),
      // before the first file (`COPY <<A <<B /new/dir/`).
      const dir = path.posix.dirname(file);
      if (shownHeredocs.length === 0 && dir !== '/') actions.push({ action: 'mkdir', path: dir, mode: 0o755, parents: true, chown: chown ?? { user: '' } });
      actions.push({ action: 'mkfile', path: file, mode: typeof chmod === 'number' ? chmod : 0o644, data: content, ...(chown ? { chown } : {}) });
      shownHeredocs.push(`<<${h.name}`);
      continue;
    }
    const src = expand(raw);
    shownPaths.push(src);
    if (ins.kind === 'add' && URL_RE.test(src)) {
      const filename = path.posix.basename(new URL(src).pathname) || 'index.html';
      const checksum = ins.checksum !== undefined ? expand(ins.checksum) : undefined;
      const http = ctx.graph.add({ kind: 'source.http', url: src, ...(checksum ? { checksum: checksum as Digest } : {}), filename }, { name: `https ${src}` });
      const target = dest.endsWith('/') ? dest : dest;
      actions.push({ action: 'copy', from: http, src: [filename], dest: target, unpack: false, ...common });
      continue;
    }
    if (ins.kind === 'add' && /^git@|\.git(#.*)?$/.test(src)) {
      throw located(ctx, ins, 'ERR_TSBUILD_INSTRUCTION_ARGS', `ADD of a git repository is not supported yet: ${src}`);
    }
    localSources.push(src);
  }
  if (localSources.length > 0) {
    const from = fromStage ?? localSource(ctx, localSources);
    const copy: CopyAction = { action: 'copy', from, src: localSources, dest, unpack: ins.kind === 'add', ...common };
    actions.push(copy);
  }
  const digest = ctx.graph.add({ kind: 'file', root: stage.root, actions, user: stage.user, platform: stage.platform }, metaFor(ctx, stage, ins));
  stage.root = digest;
  // BuildKit's text: keyword, --parents/--chown/--chmod (never --from), expanded paths, then
  // heredocs as <<NAME, then the destination as written (expanded).
  const flags = [ins.parents ? '--parents' : '', chownText !== undefined ? `--chown=${chownText}` : '', chmodText !== undefined ? `--chmod=${chmodText}` : ''].filter(Boolean);
  layerHistory(stage, [ins.kind.toUpperCase(), ...flags, ...shownPaths, ...shownHeredocs, rawDest].join(' ') + ' # buildkit', digest);
}

/** Heredoc bodies expand like a double-quoted shell word, line by line. */
function expandHeredoc(content: string, env: ExpandEnv, escape: '\\' | '`'): string {
  return content
    .split('\n')
    .map((line) => (line.includes('$') ? expandWord(`"${line.replace(/"/g, `${escape}"`)}"`, env, escape).word : line))
    .join('\n');
}
