/** The Vite plugin entry: `import { bgdl } from 'bgdl/vite'`. */
export { bgdl } from './bgdl.js';
export type { BgdlOptions } from './options.js';
