/**
 * Device nodes and named pipes, which node cannot create: through the host shell's mknod and
 * mkfifo (util/host-command.ts). Layers, ADD's tar extraction and COPY all recreate them alike;
 * the caller sets owner, mode and times afterwards.
 */
import { hostCommand } from './host-command.js';

export async function makeSpecialFile(file: string, type: 'c' | 'b' | 'p', major = 0, minor = 0): Promise<void> {
  if (type === 'p') await hostCommand('mkfifo', [file]);
  else await hostCommand('mknod', [file, type, String(major), String(minor)]);
}
