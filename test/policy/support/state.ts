// Manifests for the tests go through the real loader and validator: a test manifest that the API
// server would reject fails the test instead of being evaluated.
import { parseManifests } from '../../../src/api/load.js';
import type { ClusterState } from '../../../src/api/types.js';

export function stateFromYaml(text: string, source = 'test.yaml'): ClusterState {
  const { state, problems } = parseManifests(text, source);
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) {
    throw new Error(`invalid test manifests:\n${errors.map((p) => `${p.source} ${p.ref ?? ''} ${p.field ?? ''}: ${p.message}`).join('\n')}`);
  }
  return state;
}
