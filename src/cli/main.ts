// Placeholder until the CLI lands; keeps the build producing the launcher's entry point.
console.error('dnsgate: no subcommands yet');
process.exit(2);
