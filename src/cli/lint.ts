// `dnsgate lint`: every validation error and every policy warning, exit 1 when any is an error.
import { loadManifests, type Problem } from '../api/load.js';
import { lintPolicies } from '../policy/index.js';
import { EXIT } from './errors.js';
import { formatProblem } from './problems.js';
import type { CommandOutput } from './output.js';

export interface LintOptions {
  files: string[];
  output: 'json' | 'text';
}

export async function runLint(opts: LintOptions): Promise<CommandOutput> {
  const { state, problems, sources } = await loadManifests(opts.files);
  const findings: Problem[] = [
    ...problems,
    ...lintPolicies(state).map((f): Problem => ({ ...f, source: sources.get(f.ref) ?? 'lint' })),
  ];
  const errors = findings.filter((p) => p.severity === 'error').length;
  const warnings = findings.length - errors;
  const exitCode = errors > 0 ? EXIT.findings : EXIT.ok;
  if (opts.output === 'json') {
    return { exitCode, stdout: JSON.stringify({ errors, warnings, findings }, null, 2) + '\n', stderr: '' };
  }
  const lines = findings.map(formatProblem);
  lines.push(`${errors} error(s), ${warnings} warning(s)`);
  return { exitCode, stdout: lines.join('\n') + '\n', stderr: '' };
}
