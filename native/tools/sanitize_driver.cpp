// Standalone driver for the engine's C++ core (no Node): probes, analyses (both modes) and
// extracts frames from every file given, under AddressSanitizer/UBSan/LeakSanitizer.
// Build and run with native/tools/sanitize.sh.
#include <atomic>
#include <cstdio>

#include "../frames.h"
#include "../job.h"
#include "../media_file.h"

using namespace engine;

int main(int argc, char** argv) {
  int ok = 0, errors = 0;
  for (int i = 1; i < argc; ++i) {
    std::atomic<bool> cancel{false};
    try {
      probeFile(argv[i], &cancel);
    } catch (const MediaError&) {
    }
    for (int mode = 0; mode < 2; ++mode) {
      JobOptions opt;
      opt.segmentDuration = 1;
      opt.series = mode == 1;
      opt.sampleFps = mode == 1 ? 10 : 4;
      try {
        runJob(argv[i], opt, cancel, [](Value) {});
        ++ok;
      } catch (const MediaError&) {
        ++errors;
      }
    }
    try {
      extractFrames(argv[i], {0, 1.5, 2.9, 100}, 64, cancel);
    } catch (const MediaError&) {
    }
  }
  std::printf("%d analyses completed, %d ended in MediaError\n", ok, errors);
  return 0;
}
