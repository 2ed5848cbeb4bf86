/**
 * Docker's image reference normalisation: `busybox` -> `docker.io/library/busybox:latest`,
 * `org/app` -> `docker.io/org/app:latest`, a registry host (has `.` or `:`, or is `localhost`)
 * kept, `@sha256:` pins kept (the tag defaults to latest only when there is no digest).
 */
import { TsbuildError } from '../errors/index.js';

export interface ParsedReference {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function parseReference(ref: string): ParsedReference {
  const invalid = (why: string): never => {
    throw new TsbuildError('ERR_TSBUILD_REFERENCE_INVALID', `invalid reference "${ref}": ${why}`);
  };
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) invalid('bad digest');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) invalid('bad tag');
  }
  let registry = 'docker.io';
  const slash = rest.indexOf('/');
  const first = slash === -1 ? '' : rest.slice(0, slash);
  if (first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    rest = rest.slice(slash + 1);
  }
  if (registry === 'index.docker.io') registry = 'docker.io';
  if (rest === '') invalid('empty repository');
  if (rest !== rest.toLowerCase()) invalid('repository name must be lowercase');
  if (!rest.split('/').every((c) => COMPONENT.test(c))) invalid('bad repository name');
  if (registry === 'docker.io' && !rest.includes('/')) rest = `library/${rest}`;
  return { registry, repository: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

export function formatReference(r: ParsedReference): string {
  return `${r.registry}/${r.repository}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}

/** The fully qualified form; `latest` is added when neither tag nor digest is given. */
export function normalizeReference(ref: string): string {
  const r = parseReference(ref);
  if (r.tag === undefined && r.digest === undefined) r.tag = 'latest';
  return formatReference(r);
}
