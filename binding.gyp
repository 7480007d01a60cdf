{
  "targets": [
    {
      "target_name": "engine",
      "sources": [
        "native/addon.cpp",
        "native/av_raii.cpp",
        "native/camera_motion.cpp",
        "native/clips.cpp",
        "native/decoder.cpp",
        "native/features.cpp",
        "native/file_lock.cpp",
        "native/frames.cpp",
        "native/jpeg.cpp",
        "native/job.cpp",
        "native/log_watch.cpp",
        "native/media_file.cpp",
        "native/thumbnails.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "<!@(pkg-config --cflags libavformat libavcodec libavutil libswscale libswresample)"],
      "libraries": ["<!@(pkg-config --libs libavformat libavcodec libavutil libswscale libswresample)"],
      "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17" }
    }
  ]
}
