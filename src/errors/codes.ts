/**
 * The catalogue of error codes. Codes are API: tests and renderers switch on them, never on
 * message text. Each code has a default hint shown by the CLI when the thrower gives none.
 * Add new codes here (grouped by area) rather than inventing strings at the throw site.
 */
export const ERROR_CODES = {
  // parser: Dockerfile text -> AST
  ERR_TSBUILD_PARSE_SYNTAX: 'Check the Dockerfile syntax at the reported line.',
  ERR_TSBUILD_PARSE_NO_INSTRUCTIONS: 'A Dockerfile needs at least one instruction, starting with FROM.',
  ERR_TSBUILD_PARSE_DIRECTIVE: 'Parser directives (# syntax=, # escape=, # check=) may appear once each, at the top of the file.',
  ERR_TSBUILD_PARSE_HEREDOC: 'Close every heredoc with a line holding exactly its terminator.',
  ERR_TSBUILD_PARSE_JSON: 'In exec (JSON) form every element must be a string: ["cmd", "arg"].',
  ERR_TSBUILD_PARSE_LINE_TOO_LONG: 'Split long lines with a line continuation.',
  ERR_TSBUILD_PARSE_ENV_FORM: 'Use KEY=VALUE pairs (or the legacy "KEY VALUE" form with exactly one key).',

  // instructions / semantics
  ERR_TSBUILD_INSTRUCTION_UNKNOWN: 'See the Dockerfile reference for the list of instructions.',
  ERR_TSBUILD_INSTRUCTION_ARGS: 'Check the number and form of the instruction arguments.',
  ERR_TSBUILD_INSTRUCTION_FLAG: 'Check the flag name and value; see the Dockerfile reference for the flags this instruction takes.',
  ERR_TSBUILD_INSTRUCTION_EXPOSE: 'EXPOSE takes PORT[/PROTOCOL] or a range START-END[/PROTOCOL], protocol tcp, udp or sctp.',
  ERR_TSBUILD_INSTRUCTION_HEALTHCHECK: 'HEALTHCHECK takes NONE, or CMD with --interval/--timeout/--start-period/--start-interval/--retries.',
  ERR_TSBUILD_EXPAND: 'Check the ${...} variable substitution syntax.',
  ERR_TSBUILD_STAGE_NO_FROM: 'Start the Dockerfile (after any global ARGs) with a FROM instruction.',
  ERR_TSBUILD_STAGE_NAME: 'Stage names must be unique, start with a letter and not be "scratch" or "context".',
  ERR_TSBUILD_STAGE_NOT_FOUND: 'Name an existing stage (by name or index) that is defined before this one.',
  ERR_TSBUILD_STAGE_CYCLE: 'Stages may not depend on each other in a cycle.',
  ERR_TSBUILD_TARGET_NOT_FOUND: 'Pass --target with the name of a stage defined in the Dockerfile.',
  ERR_TSBUILD_DOCKERIGNORE: 'Check the pattern syntax in .dockerignore.',

  // context, files
  ERR_TSBUILD_CONTEXT_NOT_FOUND: 'Pass an existing directory as the build context.',
  ERR_TSBUILD_DOCKERFILE_NOT_FOUND: 'Pass the Dockerfile with -f, or put a Dockerfile in the context directory.',
  ERR_TSBUILD_COPY_SOURCE: 'COPY/ADD sources must exist inside the build context (check .dockerignore too).',
  ERR_TSBUILD_COPY_OUTSIDE_CONTEXT: 'Sources cannot reach outside the build context (no ../ paths).',
  ERR_TSBUILD_COPY_DEST: 'When copying several sources the destination must be a directory ending in "/".',
  ERR_TSBUILD_COPY_USER: 'The --chown/USER name must exist in the destination image\'s /etc/passwd or /etc/group (or use numeric ids).',
  ERR_TSBUILD_COPY_CONFLICT: 'The destination path has the wrong type (a file where a directory is needed, or the reverse).',
  ERR_TSBUILD_ADD_ARCHIVE_UNSAFE: 'The archive contains entries that would write outside the destination (tar-slip); it was refused.',
  ERR_TSBUILD_HTTP_FETCH: 'The ADD URL could not be downloaded; check the URL and the network.',
  ERR_TSBUILD_HTTP_CHECKSUM: 'The downloaded file does not match the --checksum digest.',
  ERR_TSBUILD_FILEOP_IO: 'A filesystem operation of COPY/ADD/WORKDIR failed; check free space and permissions of the state root.',

  // store, snapshots, images
  ERR_TSBUILD_STORE_CORRUPT: 'The state root is damaged; run `tsbuild prune --all` or remove the state root.',
  ERR_TSBUILD_STORE_DIGEST_MISMATCH: 'The content did not match its digest; it was not stored.',
  ERR_TSBUILD_STORE_LOCKED: 'Another tsbuild process holds the lock on this state root; wait for it or use --root.',
  ERR_TSBUILD_LAYER_UNSAFE: 'The layer contains entries that would write outside the root (tar-slip); it was refused.',
  ERR_TSBUILD_LAYER_FORMAT: 'The layer is not a valid (optionally compressed) tar stream.',
  ERR_TSBUILD_IMAGE_NOT_FOUND: 'Load it with `tsbuild image load`, build it with -t, or pull it from a registry.',
  ERR_TSBUILD_IMAGE_FORMAT: 'Expected an OCI layout or `docker save` tarball.',
  ERR_TSBUILD_REFERENCE_INVALID: 'Image references look like [REGISTRY/]REPO[:TAG][@sha256:DIGEST].',

  // execution
  ERR_TSBUILD_RUN_EXIT_CODE: 'The RUN command failed; its output is shown above.',
  ERR_TSBUILD_SANDBOX_UNAVAILABLE: 'tsbuild needs Linux namespaces (run as root, or enable unprivileged user namespaces).',
  ERR_TSBUILD_ENTITLEMENT: 'A privileged step needs its entitlement granted with --allow (security.insecure for RUN --security=insecure, network.host for RUN --network=host).',
  ERR_TSBUILD_SANDBOX_SETUP: 'The sandbox could not be prepared; run with --debug for details.',
  ERR_TSBUILD_CANCELLED: 'The build was cancelled.',
  ERR_TSBUILD_BENCH_BUILD: 'A build of the benchmark failed; its output is shown above. Check the project builds with `tsbuild build` first.',

  // solver, export, cli
  ERR_TSBUILD_SECRET_NOT_FOUND: 'Pass the secret with --secret id=ID,src=FILE or --secret id=ID,env=VAR.',
  ERR_TSBUILD_EXPORT_OPTIONS: 'Check the -o/--output options: type=oci|docker|local|tar|image and its keys.',
  ERR_TSBUILD_EXPORT_STDOUT_CLOSED: 'Whatever read stdout (a pipe) exited before the tarball was complete; the tarball it got is truncated.',
  ERR_TSBUILD_EXPORT_STDOUT_TTY: 'Redirect stdout to a file or a pipe (tsbuild build -o type=oci,dest=- . > image.tar), or give dest=FILE.',
  ERR_TSBUILD_CLI_USAGE: 'Run `tsbuild --help` for usage.',
  ERR_TSBUILD_PLATFORM: 'Platforms look like os/arch[/variant], e.g. linux/amd64.',
  ERR_TSBUILD_HISTORY_NOT_FOUND: 'List the recorded builds with `tsbuild history`; an id may be shortened to a unique prefix.',

  // registry
  ERR_TSBUILD_REGISTRY_UNAUTHORIZED: 'Log in to the registry (credentials in ~/.docker/config.json).',
  ERR_TSBUILD_REGISTRY_NOT_FOUND: 'Check the repository name and tag.',
  ERR_TSBUILD_REGISTRY_HTTP: 'The registry returned an unexpected response; it may be unavailable.',
  ERR_TSBUILD_REGISTRY_NO_PLATFORM: 'The image has no manifest for the requested platform; pick one with --platform.',

  // remote cache (--cache-to / --cache-from)
  ERR_TSBUILD_CACHE_OPTIONS: 'Use --cache-to type=registry,ref=REF[,mode=min|max] or type=local,dest=DIR, and --cache-from type=registry,ref=REF or type=local,src=DIR.',
  ERR_TSBUILD_CACHE_FORMAT: 'The cache ref does not hold a tsbuild cache (see docs/cache-format.md); export it again with --cache-to.',
  ERR_TSBUILD_CACHE_EXPORT: 'The cache could not be exported; check the destination, or add ignore-error=true to --cache-to.',

  ERR_TSBUILD_INTERNAL: 'This is a bug in tsbuild; please report it with the --debug output.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function defaultHint(code: ErrorCode): string {
  return ERROR_CODES[code];
}
