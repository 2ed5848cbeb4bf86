/**
 * Extended attributes for COPY. BuildKit copies xattrs (file capabilities such as
 * security.capability on `ping`, user.* attributes), so a copied binary keeps its
 * capabilities. Node has no xattr API, so we use attr's getfattr/setfattr: ONE getfattr run
 * per copy source collects every attribute of the tree (most trees have none, so the common case
 * costs one process), and setfattr runs only for entries that have some.
 * Overlayfs bookkeeping (trusted.overlay.*) is never copied.
 */
import { hostCommand } from '../util/host-command.js';

/** Host path -> [name, 0x-hex value] pairs. */
export type XattrMap = Map<string, Array<[string, string]>>;

let available: Promise<boolean> | undefined;

/**
 * Whether getfattr/setfattr are there, asked once. A build asks early: the first host command
 * also starts the host shell (util/host-command.ts), which then overlaps the context hashing
 * instead of delaying the first COPY by ~10-20 ms.
 */
export function xattrToolsAvailable(): Promise<boolean> {
  available ??= hostCommand('getfattr', ['--version']).then(
    () => true,
    () => false,
  );
  return available;
}

/** getfattr escapes unusual bytes in file names as \ooo octal. */
function unescapeName(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
      bytes.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
    } else bytes.push(...Buffer.from(s[i]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Reads every xattr below (and of) `hostPath`, without following symlinks. */
export async function readXattrs(hostPath: string): Promise<XattrMap> {
  return getfattr(['-R', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', hostPath]);
}

/**
 * Reads the xattrs of exactly these paths (no recursion, links not followed): a copy that reads
 * the context in place must not scan the ignored trees (node_modules) that lie beside its files.
 */
export async function readXattrsOf(hostPaths: string[], options: { overlay?: boolean } = {}): Promise<XattrMap> {
  const map: XattrMap = new Map();
  // Batches keep each command line far below the kernel's argument limit.
  for (let i = 0; i < hostPaths.length; i += 1000) {
    for (const [k, v] of await getfattr(['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--', ...hostPaths.slice(i, i + 1000)], options.overlay)) map.set(k, v);
  }
  return map;
}

/**
 * `overlay`: keep the trusted.overlay.* names too, for a caller that reads layer dirs themselves
 * (an opaque directory is marked by one).
 */
async function getfattr(args: string[], overlay = false): Promise<XattrMap> {
  const map: XattrMap = new Map();
  if (!(await xattrToolsAvailable())) return map;
  let out: string;
  try {
    ({ stdout: out } = await hostCommand('getfattr', args));
  } catch (e) {
    // getfattr exits non-zero when some entry cannot be read; keep what it printed.
    out = (e as { stdout?: string }).stdout ?? '';
  }
  let current: string | undefined;
  for (const line of out.split('\n')) {
    if (line.startsWith('# file: ')) current = unescapeName(line.slice(8));
    else if (current && line.includes('=')) {
      const eq = line.indexOf('=');
      const name = line.slice(0, eq);
      if ((!overlay && name.startsWith('trusted.overlay.')) || name === 'security.selinux') continue;
      const list = map.get(current) ?? [];
      list.push([name, line.slice(eq + 1)]);
      map.set(current, list);
    }
  }
  return map;
}

/** Applies attributes to `target` (after chown, which clears security.capability). */
export async function writeXattrs(target: string, attrs: Array<[string, string]>): Promise<void> {
  for (const [name, value] of attrs) {
    await hostCommand('setfattr', ['-h', '-n', name, '-v', value, target]).catch(() => undefined);
  }
}
