export { createPlainRenderer } from './plain.js';
export { createJsonRenderer } from './json.js';
export { createTtyRenderer } from './tty.js';
