// How the CLI prints loader/validator/lint findings: one line each, most specific location first.
import type { Problem } from '../api/load.js';
import { InputError } from './errors.js';

export function formatProblem(p: Problem): string {
  const where = [p.source, p.ref, p.field].filter((x): x is string => Boolean(x)).join(': ');
  return `${p.severity}: ${where}: ${p.message}`;
}

/**
 * Commands that evaluate (explain) must not run on a partially loaded state: any error means the
 * whole input is refused, with every problem listed.
 */
export function refuseOnErrors(problems: readonly Problem[]): void {
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) {
    throw new InputError(`the manifests have ${errors.length} error(s); nothing was evaluated`, errors.map(formatProblem));
  }
}
