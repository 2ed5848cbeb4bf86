/**
 * The host mount table, narrowed to one test's mounts. Tests run concurrently (other files,
 * other builds), so comparing the whole of /proc/self/mountinfo would fail on a neighbour's
 * overlay; every mount a build makes names its bundle (`tsbuild-run-<pid>-`) or a path under
 * the test's own temp dir (its state root holds every overlay's lower and upper dirs).
 */
import { readFileSync } from 'node:fs';

export function mountsMatching(...needles: string[]): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line !== '' && needles.some((n) => line.includes(n)));
}
