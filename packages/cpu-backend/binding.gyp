{
  "targets": [
    {
      "target_name": "lorakit_cpu",
      "sources": [
        "native/addon.cc",
        "native/gemm.cc",
        "native/dgemm.cc",
        "native/dgemm_portable.cc",
        "native/cpu_features.cc",
        "native/thread_pool.cc",
        "native/kernel_portable.cc",
        "native/vector_portable.cc",
        "native/op_names.cc",
        "native/tensor_binding.cc",
        "native/elementwise.cc",
        "native/reduce.cc",
        "native/norm.cc",
        "native/fused_elementwise.cc",
        "native/attention.cc",
        "native/loss.cc",
        "native/indexing.cc",
        "native/conv.cc",
        "native/linalg_common.cc",
        "native/linalg_svd.cc",
        "native/linalg_qr.cc",
        "native/linalg_eigh.cc"
      ],
      "dependencies": ["lorakit_cpu_avx2", "lorakit_cpu_avx512"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fno-math-errno", "-fno-trapping-math"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0",
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fno-math-errno", "-fno-trapping-math"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17"] }
      }
    },
    {
      "target_name": "lorakit_cpu_avx2",
      "type": "static_library",
      "sources": ["native/kernel_avx2.cc", "native/vector_avx2.cc", "native/dgemm_avx2.cc"],
      "cflags_cc!": ["-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fno-trapping-math"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      },
      "conditions": [
        [
          "target_arch=='x64'",
          {
            "cflags_cc": ["-mavx2", "-mfma", "-ffp-contract=fast"],
            "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fno-math-errno", "-fno-trapping-math", "-mavx2", "-mfma", "-ffp-contract=fast"] },
            "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/arch:AVX2"] } }
          }
        ]
      ]
    },
    {
      "target_name": "lorakit_cpu_avx512",
      "type": "static_library",
      "sources": ["native/kernel_avx512.cc", "native/vector_avx512.cc", "native/dgemm_avx512.cc"],
      "cflags_cc!": ["-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fno-trapping-math"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      },
      "conditions": [
        [
          "target_arch=='x64'",
          {
            "cflags_cc": [
              "-mavx512f",
              "-mavx512dq",
              "-mavx512bw",
              "-mavx512vl",
              "-mfma",
              "-mprefer-vector-width=512",
              "-ffp-contract=fast"
            ],
            "xcode_settings": {
              "OTHER_CPLUSPLUSFLAGS": [
                "-O3",
                "-fno-math-errno",
                "-fno-trapping-math",
                "-mavx512f",
                "-mavx512dq",
                "-mavx512bw",
                "-mavx512vl",
                "-mfma",
                "-mprefer-vector-width=512",
                "-ffp-contract=fast"
              ]
            },
            "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/arch:AVX512"] } }
          }
        ]
      ]
    }
  ]
}
