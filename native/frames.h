// Frame extraction at given timestamps (RGB24), for engines that feed frames to a vision model.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace engine {

struct ExtractedFrame {
  double timestamp = 0;  // actual presentation time of the returned frame
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3, display orientation
};

// One frame per requested timestamp, in request order: the first frame at or after the
// timestamp (the last frame of the video for timestamps past its end). Frames are scaled
// to fit maxSide x maxSide, aspect preserved.
std::vector<ExtractedFrame> extractFrames(const std::string& path, const std::vector<double>& timestamps, int maxSide,
                                          const std::atomic<bool>& cancel);

}  // namespace engine
