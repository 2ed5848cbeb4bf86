/**
 * CPU time of this process's reaped children. Node does not expose a child's rusage, and runc's
 * container processes are runc's children, not ours; but the kernel adds every reaped
 * descendant's time to its reaper's cutime/cstime, and runc is ours. So the delta of our own
 * cutime+cstime around one `runc run` is that step's CPU, as long as no other child of tsbuild
 * ends in the same window (parallel steps can be charged each other's children).
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second (USER_HZ): 100 on every Linux ABI Node supports. */
const TICK_MS = 10;

/** cutime + cstime of this process in ms, or undefined where /proc is unavailable. */
export function childCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the parenthesised command name (which may hold spaces); cutime and cstime are
    // fields 16 and 17 of the whole line, so 14 and 15 after the ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
  } catch {
    return undefined;
  }
}
