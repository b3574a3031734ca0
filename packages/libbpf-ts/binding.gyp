{
  "targets": [
    {
      "target_name": "bpf_ts",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/log.cc",
        "native/object.cc",
        "native/map.cc",
        "native/prog.cc",
        "native/tc.cc",
        "native/ringbuf.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-Wno-unused-parameter"],
      "libraries": ["-lbpf"]
    }
  ]
}
