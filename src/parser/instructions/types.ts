/**
 * Typed instructions: what each Dockerfile instruction says, validated, still unexpanded
 * (variables are resolved by the planner, which knows the scope). One kind per instruction,
 * BuildKit's `instructions.Command` as a discriminated union.
 */
import type { Heredoc, KeyValue, LineRange } from '../ast.js';

export interface Located {
  range: LineRange;
  /** The logical line as written, for history and messages. */
  original: string;
}

export interface MountSpec {
  type: 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
  target?: string;
  source?: string;
  from?: string;
  readonly?: boolean;
  id?: string;
  sharing?: 'shared' | 'private' | 'locked';
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  required?: boolean;
  env?: string;
}

export interface HealthcheckSpec {
  test: string[];
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
}

export type Instruction = Located &
  (
    | { kind: 'from'; image: string; stageName?: string; platform?: string }
    | {
        kind: 'run';
        command: string[];
        json: boolean;
        heredocs: Heredoc[];
        /** Raw `--mount` values (they may hold variables; parseMount after expansion). */
        mounts: string[];
        network?: string;
        security?: string;
      }
    | { kind: 'cmd' | 'entrypoint'; command: string[]; json: boolean }
    | { kind: 'shell'; shell: string[] }
    | { kind: 'env' | 'label'; pairs: KeyValue[] }
    | { kind: 'arg'; args: Array<{ key: string; value?: string }> }
    | {
        kind: 'copy' | 'add';
        sources: string[];
        dest: string;
        heredocs: Heredoc[];
        from?: string;
        chown?: string;
        chmod?: string;
        link: boolean;
        exclude: string[];
        parents: boolean;
        checksum?: string;
        keepGitDir?: boolean;
      }
    | { kind: 'workdir'; path: string }
    | { kind: 'user'; user: string }
    | { kind: 'expose'; ports: string[] }
    | { kind: 'volume'; paths: string[] }
    | { kind: 'stopsignal'; signal: string }
    | { kind: 'healthcheck'; none: true }
    | ({ kind: 'healthcheck'; none: false } & HealthcheckSpec)
    | { kind: 'onbuild'; trigger: string }
    | { kind: 'maintainer'; name: string }
  );

export type InstructionKind = Instruction['kind'];
