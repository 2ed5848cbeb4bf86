import type { Command } from '../command.js';

/** A command entry: enough to list it in help without loading its (heavy) module. */
export interface CommandEntry {
  names: string[];
  summary: string;
  load(): Promise<Command>;
}

/**
 * Every CLI command. Modules load lazily so `tsbuild parse` never pays for the solver's imports.
 * `build` is the default command (`tsbuild .` means `tsbuild build .`).
 */
export const COMMANDS: CommandEntry[] = [
  { names: ['build', 'b'], summary: 'Build an image from a Dockerfile', load: async () => (await import('./build.js')).buildCommand },
  { names: ['image'], summary: 'Manage local images (import, ls, rm)', load: async () => (await import('./image.js')).imageCommand },
  { names: ['history'], summary: 'List recorded builds, or show one step by step (history show ID)', load: async () => (await import('./history.js')).historyCommand },
  { names: ['du'], summary: 'Show disk usage of the state root', load: async () => (await import('./du.js')).duCommand },
  { names: ['prune'], summary: 'Remove build cache (LRU with a size cap) and unreferenced data', load: async () => (await import('./prune.js')).pruneCommand },
  { names: ['layers'], summary: 'Show each layer of an image: step, sizes, largest files, wasted bytes', load: async () => (await import('./layers.js')).layersCommand },
  { names: ['bench'], summary: 'Time cold, no-op, touch and edit-one-file builds (medians, spread, per step)', load: async () => (await import('./bench.js')).benchCommand },
  { names: ['plan'], summary: 'Plan a build and print its graph of layer steps', load: async () => (await import('./plan.js')).planCommand },
  { names: ['parse'], summary: 'Parse a Dockerfile and print its syntax tree', load: async () => (await import('./parse.js')).parseCommand },
];

export function findCommand(name: string): CommandEntry | undefined {
  return COMMANDS.find((c) => c.names.includes(name));
}
