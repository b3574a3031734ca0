// libbpf-ts: a typed binding over the system libbpf.
export { BpfError } from './errors.js';
export type { BpfErrorContext } from './errors.js';
export { BpfObject, openObject, loadObject } from './object.js';
export type { OpenOptions, MapDeclaration, ProgramDeclaration } from './object.js';
export { BpfMap, openPinnedMap, mapFromId, unpin, sumPerCpuU64 } from './map.js';
export type { MapInfo, MapValue } from './map.js';
export { BpfProgram, openPinnedProgram, programFromId } from './program.js';
export type { ProgramInfo, TestRunOptions, TestRunResult } from './program.js';
export { tcHookCreate, tcHookDestroy, tcAttach, tcDetach, tcQuery, ifIndex } from './tc.js';
export type { TcDirection, TcInterface, TcAttachOptions, TcAttachment } from './tc.js';
export { RingBuffer } from './ringbuf.js';
export type { RingBufferOptions } from './ringbuf.js';
export { setLogHandler, setLogLevel } from './log.js';
export type { LogLevel, LogHandler } from './log.js';
export { MapType, ProgType, TcAct, UPDATE_FLAGS } from './constants.js';
export type { UpdateFlag } from './constants.js';
export { numPossibleCpus, libbpfVersion } from './system.js';
