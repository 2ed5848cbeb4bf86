import type { OptionSpec } from '../args.js';

/** The options of `tsbuild build` (also parsed by the up-to-date check, cli/up-to-date.ts). */
export const buildOptions: OptionSpec[] = [
  { name: 'file', short: 'f', type: 'string', value: 'PATH', description: 'Name of the Dockerfile (default: PATH/Dockerfile)' },
  { name: 'tag', short: 't', type: 'list', value: 'NAME[:TAG]', description: 'Name and optionally a tag for the image' },
  { name: 'target', type: 'string', value: 'STAGE', description: 'Set the target build stage to build' },
  { name: 'build-arg', type: 'list', value: 'KEY=VALUE', description: 'Set build-time variables' },
  { name: 'push', type: 'boolean', description: 'Push the -t names to their registries (shorthand for --output=type=image,push=true)' },
  { name: 'no-cache', type: 'boolean', description: 'Do not use cache when building the image' },
  { name: 'no-cache-filter', type: 'list', value: 'STAGE', description: 'Do not cache the specified stages' },
  { name: 'output', short: 'o', type: 'list', value: 'SPEC', description: 'Output destination (format: type=local,dest=path)' },
  { name: 'cache-to', type: 'list', value: 'SPEC', description: 'Cache export destination (type=registry,ref=REF[,mode=min|max][,cache-mounts=true] or type=local,dest=DIR)' },
  { name: 'cache-from', type: 'list', value: 'SPEC', description: 'External cache sources (type=registry,ref=REF or type=local,src=DIR)' },
  { name: 'progress', type: 'string', value: 'MODE', description: 'Progress output: auto, tty, plain, rawjson, quiet (default: auto)' },
  { name: 'quiet', short: 'q', type: 'boolean', description: 'Suppress the build output and print the image ID on success' },
  { name: 'explain', type: 'boolean', description: 'Print why each step missed the cache (also: tsbuild history show ID --explain)' },
  { name: 'metadata-file', type: 'string', value: 'FILE', description: 'Write build result metadata to a file' },
  { name: 'iidfile', type: 'string', value: 'FILE', description: 'Write the image ID to a file' },
  { name: 'jobs', type: 'string', value: 'N', description: 'Maximum number of steps run at once (default: number of CPUs)' },
  { name: 'network', type: 'string', value: 'MODE', description: 'Networking mode for RUN: default, none, host' },
  { name: 'secret', type: 'list', value: 'id=ID,src=FILE|env=VAR', description: 'Secret to expose to the build' },
  { name: 'platform', type: 'string', value: 'OS/ARCH', description: 'Target platform (default: the host platform)' },
  { name: 'insecure-registry', type: 'list', value: 'HOST[:PORT]', description: 'Reach this registry over plain HTTP (loopback registries always are)' },
  { name: 'allow', type: 'list', value: 'ENTITLEMENT', description: 'Extra privileged entitlement: security.insecure (RUN --security=insecure), network.host (RUN --network=host)' },
  { name: 'root', type: 'string', value: 'DIR', description: 'State root (default: $TSBUILD_ROOT or the per-user default)' },
];
