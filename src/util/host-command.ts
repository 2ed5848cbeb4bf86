/**
 * Short host commands (mount, umount, getfattr) run by long-lived /bin/sh processes instead of
 * one spawn each. Node forks its whole address space for every child: with a build's ~150 MB heap
 * a spawn costs 7-20 ms, and a build makes 30-60 of them (a mount and an umount per step, a
 * getfattr per layer); a small shell forks in about 1 ms. Each shell runs its commands one at a
 * time, in order, with stdin from /dev/null; each is followed by a marker line carrying its exit
 * status on stdout and one on stderr, so outputs are split exactly. Results and errors look like
 * promisify(execFile)'s: `{stdout, stderr}`, or an Error with `code` (exit status), `stdout`
 * and `stderr`. When a shell cannot be started, execFile is used.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface HostCommandResult {
  stdout: string;
  stderr: string;
}

interface Request {
  cmd: string;
  resolve(r: HostCommandResult): void;
  reject(e: Error): void;
  out?: Buffer;
  code?: number;
  err?: Buffer;
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

class Stream {
  private acc: Buffer = Buffer.alloc(0);
  constructor(private readonly marker: Buffer) {}

  /** Appends a chunk; returns the completed [body, rest-of-marker-line] pairs. */
  push(chunk: Buffer): Array<{ body: Buffer; tail: string }> {
    const from = Math.max(0, this.acc.length - this.marker.length - 32);
    this.acc = this.acc.length === 0 ? chunk : Buffer.concat([this.acc, chunk]);
    const done: Array<{ body: Buffer; tail: string }> = [];
    let at = this.acc.indexOf(this.marker, from);
    while (at !== -1) {
      const eol = this.acc.indexOf(0x0a, at + this.marker.length);
      if (eol === -1) break;
      done.push({ body: this.acc.subarray(0, at), tail: this.acc.subarray(at + this.marker.length, eol).toString('latin1') });
      this.acc = this.acc.subarray(eol + 1);
      at = this.acc.indexOf(this.marker);
    }
    return done;
  }
}

class Shell {
  private readonly child: ChildProcessWithoutNullStreams;
  readonly queue: Request[] = [];
  private readonly token = randomBytes(6).toString('hex');
  dead = false;

  constructor() {
    this.child = spawn('/bin/sh', [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const marker = Buffer.from(`\n\x1etsbuild-${this.token}:`);
    const out = new Stream(marker);
    const err = new Stream(marker);
    this.child.stdout.on('data', (c: Buffer) => {
      for (const { body, tail } of out.push(c)) {
        const r = this.queue.find((q) => q.out === undefined);
        if (!r) continue;
        r.out = body;
        r.code = Number(tail);
        this.settle();
      }
    });
    this.child.stderr.on('data', (c: Buffer) => {
      for (const { body } of err.push(c)) {
        const r = this.queue.find((q) => q.err === undefined);
        if (!r) continue;
        r.err = body;
        this.settle();
      }
    });
    const fail = (e: Error): void => {
      this.dead = true;
      for (const r of this.queue.splice(0)) r.reject(Object.assign(new Error(`host shell failed running ${r.cmd}: ${e.message}`), { shellDied: true }));
    };
    this.child.on('error', fail);
    this.child.on('exit', (code) => fail(new Error(`exited with ${code}`)));
    this.child.stdin.on('error', () => {});
    this.setRef(false);
  }

  /** Keeps the process alive only while a command is in flight. */
  private setRef(on: boolean): void {
    for (const h of [this.child, this.child.stdout, this.child.stderr, this.child.stdin] as Array<{ ref?(): void; unref?(): void }>) {
      if (on) h.ref?.();
      else h.unref?.();
    }
  }

  private settle(): void {
    while (this.queue.length > 0 && this.queue[0]!.out !== undefined && this.queue[0]!.err !== undefined) {
      const r = this.queue.shift()!;
      const stdout = r.out!.toString('utf8');
      const stderr = r.err!.toString('utf8');
      if (r.code === 0) r.resolve({ stdout, stderr });
      else r.reject(Object.assign(new Error(`Command failed: ${r.cmd}\n${stderr}`), { code: r.code, stdout, stderr }));
    }
    if (this.queue.length === 0) this.setRef(false);
  }

  run(file: string, args: string[]): Promise<HostCommandResult> {
    const cmd = [file, ...args].join(' ');
    return new Promise((resolve, reject) => {
      this.queue.push({ cmd, resolve, reject });
      this.setRef(true);
      const m = `\\n\\036tsbuild-${this.token}:`;
      this.child.stdin.write(`${[file, ...args].map(quote).join(' ')} </dev/null; printf '${m}%d\\n' $?; printf '${m}\\n' >&2\n`);
    });
  }
}

/**
 * At most this many shells: a slow command (an umount that syncs the filesystem) must not hold
 * up an unrelated one (the getfattr of the layer being committed meanwhile).
 */
const MAX_SHELLS = 2;
let shells: Shell[] = [];
let shellBroken = false;

function pickShell(): Shell {
  shells = shells.filter((s) => !s.dead);
  const idle = shells.find((s) => s.queue.length === 0);
  if (idle) return idle;
  if (shells.length < MAX_SHELLS) {
    const s = new Shell();
    shells.push(s);
    return s;
  }
  return shells.reduce((a, b) => (b.queue.length < a.queue.length ? b : a));
}

/**
 * Runs `file args...` on the host (PATH lookup, no shell expansion of the arguments). Calls made
 * one after another (each awaited) run in that order; concurrent calls may run side by side.
 */
export async function hostCommand(file: string, args: string[]): Promise<HostCommandResult> {
  if (shellBroken) return execFileAsync(file, args, { maxBuffer: 256 * 1024 * 1024 });
  try {
    return await pickShell().run(file, args);
  } catch (err) {
    if (!(err as { shellDied?: boolean }).shellDied) throw err;
    // The shell itself failed (cannot start, killed): this and later commands spawn directly.
    shellBroken = true;
    return execFileAsync(file, args, { maxBuffer: 256 * 1024 * 1024 });
  }
}
