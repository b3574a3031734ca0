// Kernel constants callers need to interpret map/program info and program results.

/** enum bpf_map_type (the common ones). */
export const MapType = {
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13,
  QUEUE: 22,
  STACK: 23,
  RINGBUF: 27,
} as const;

/** enum bpf_prog_type (the ones dnsgate uses). */
export const ProgType = {
  SOCKET_FILTER: 1,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  XDP: 6,
  CGROUP_SKB: 8,
} as const;

/** Map update flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST. */
export type UpdateFlag = 'any' | 'noexist' | 'exist';

export const UPDATE_FLAGS: Record<UpdateFlag, number> = { any: 0, noexist: 1, exist: 2 };

/** tc classifier return codes (TC_ACT_*). */
export const TcAct = {
  UNSPEC: -1,
  OK: 0,
  RECLASSIFY: 1,
  SHOT: 2,
  PIPE: 3,
  STOLEN: 4,
  REDIRECT: 7,
} as const;
