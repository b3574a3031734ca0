// Test-only stand-in for src/api/load.ts (not landed yet): multi-document YAML bucketed by kind,
// without validation. Replace with parseManifests once it exists.
import { parseAllDocuments } from 'yaml';
import { type ClusterState, type KnownObject, emptyClusterState } from '../../../src/api/types.js';

export function stateFromYaml(text: string): ClusterState {
  const state = emptyClusterState();
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`bad YAML: ${doc.errors[0]?.message}`);
    const obj = doc.toJS() as KnownObject | null;
    if (obj === null) continue;
    switch (obj.kind) {
      case 'Namespace':
        state.namespaces.push(obj);
        break;
      case 'Pod':
        state.pods.push(obj);
        break;
      case 'Node':
        state.nodes.push(obj);
        break;
      case 'Service':
        state.services.push(obj);
        break;
      case 'EndpointSlice':
        state.endpointSlices.push(obj);
        break;
      case 'NetworkPolicy':
        state.networkPolicies.push(obj);
        break;
      case 'ApplicationNetworkPolicy':
        state.applicationNetworkPolicies.push(obj);
        break;
      case 'ClusterNetworkPolicy':
        state.clusterNetworkPolicies.push(obj);
        break;
      default:
        throw new Error(`unknown kind ${(obj as { kind: string }).kind}`);
    }
  }
  return state;
}
