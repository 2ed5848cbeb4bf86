export { parseInstruction } from './parse-instruction.js';
export { parseMount } from './mounts.js';
export { parseDuration } from './duration.js';
export { FlagError } from './flags.js';
export type { Instruction, InstructionKind, MountSpec, HealthcheckSpec, Located } from './types.js';
