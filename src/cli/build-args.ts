/** `--build-arg K=V`, or `--build-arg K` to take K from the environment (as docker does). */
export function parseBuildArgs(values: string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq === -1) {
      const fromEnv = env[v];
      if (fromEnv !== undefined) out[v] = fromEnv;
    } else out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}
