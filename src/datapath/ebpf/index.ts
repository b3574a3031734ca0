// Public surface of the eBPF backend.
export { EbpfDatapath, DEFAULT_PIN_ROOT, defaultObjectPath, type EbpfDatapathOptions } from './ebpf-datapath.js';
export { EbpfApplyError, EbpfClosedError, EbpfLearnError, EbpfLoadError } from './errors.js';
export { TC_HANDLE, TC_PRIORITY, queryHooks } from './attach.js';
