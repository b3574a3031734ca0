// Root gate of the namespace tests: skipped loudly off-root, never skipped under CI=true.
export const needRoot = process.getuid?.() === 0 || process.env.CI === 'true';
if (!needRoot) console.warn('\n*** test/sandbox, test/sources/local: SKIPPED (need root to build network namespaces; CI=true forces them) ***\n');
