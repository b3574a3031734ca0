// Facts about the host libbpf sees.
import { native } from './native.js';

/** CPUs a per-CPU map holds values for (possible, not online, CPUs). */
export function numPossibleCpus(): number {
  return native().numPossibleCpus();
}

/** Version of the libbpf the addon is linked against, e.g. 'v1.1'. */
export function libbpfVersion(): string {
  return native().libbpfVersion();
}
