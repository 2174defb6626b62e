{
  # node-gyp (bundled with npm, no cmake needed on the node) builds the addon;
  # scripts/build.sh first runs `make -C bpf` so the skeleton headers exist.
  "targets": [
    {
      "target_name": "xctl",
      "sources": [
        "native/addon.cc",
        "native/session.cc",
        "native/probe_set.cc",
        "native/ring_reader.cc",
        "native/nvml.cc",
        "native/uprobes.cc",
        "native/peercred.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "build/bpf"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O3", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": ["-lbpf", "-lelf", "-lz", "-ldl", "-lpthread"]
    }
  ]
}
