import { defaultHint, type ErrorCode } from './codes.js';

export interface TsbuildErrorOptions {
  hint?: string;
  cause?: unknown;
}

/**
 * The one error type the core throws. `code` is the contract (see codes.ts); `message` is prose
 * for people; `hint` says what to do about it. The core never prints: cli/ renders these.
 */
export class TsbuildError extends Error {
  override name = 'TsbuildError';
  readonly code: ErrorCode;
  readonly hint: string;

  constructor(code: ErrorCode, message: string, options: TsbuildErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint ?? defaultHint(code);
  }
}

/** A location in a Dockerfile: 1-based lines, inclusive; column is 1-based when known. */
export interface SourceLocation {
  file: string;
  startLine: number;
  endLine: number;
  column?: number;
}

/**
 * An error that points at Dockerfile text (BuildKit's LocationError). The CLI prints it as
 * `FILE:LINE:COL: message` followed by the offending source line.
 */
export class DockerfileError extends TsbuildError {
  override name = 'DockerfileError';
  readonly location: SourceLocation;
  /** The offending source text, when the thrower has it at hand. */
  readonly source?: string;

  constructor(
    code: ErrorCode,
    message: string,
    location: SourceLocation,
    options: TsbuildErrorOptions & { source?: string } = {},
  ) {
    super(code, message, options);
    this.location = location;
    if (options.source !== undefined) this.source = options.source;
  }
}

/** A build step failed (BuildKit's vertex error): carries which op and, for RUN, the exit code. */
export class StepError extends TsbuildError {
  override name = 'StepError';
  readonly vertex: string;
  readonly step: string;
  readonly exitCode?: number;
  readonly location?: SourceLocation;
  /** Last lines of the step's output, for the error report. */
  readonly outputTail?: string[];

  constructor(
    code: ErrorCode,
    message: string,
    details: { vertex: string; step: string; exitCode?: number; location?: SourceLocation; outputTail?: string[] },
    options: TsbuildErrorOptions = {},
  ) {
    super(code, message, options);
    this.vertex = details.vertex;
    this.step = details.step;
    if (details.exitCode !== undefined) this.exitCode = details.exitCode;
    if (details.location !== undefined) this.location = details.location;
    if (details.outputTail !== undefined) this.outputTail = details.outputTail;
  }
}

/** A registry answered with an error. `url` never carries credentials. */
export class RegistryError extends TsbuildError {
  override name = 'RegistryError';
  readonly status: number | undefined;
  readonly url: string;

  constructor(code: ErrorCode, message: string, details: { status?: number; url: string }, options: TsbuildErrorOptions = {}) {
    super(code, message, options);
    this.status = details.status;
    this.url = details.url;
  }
}

export function isTsbuildError(err: unknown): err is TsbuildError {
  return err instanceof TsbuildError;
}
