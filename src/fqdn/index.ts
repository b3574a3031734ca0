// The fqdn room's public surface: patterns, the compiled matcher and the learned-IP store.
export * from './pattern.js';
export * from './matcher.js';
export * from './learned.js';
