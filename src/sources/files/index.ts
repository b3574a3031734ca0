export { FileSource, type FileSourceOptions } from './file-source.js';
export { FileSourceError } from './errors.js';
export { diffStates, objectKey, canonicalJson } from './diff.js';
