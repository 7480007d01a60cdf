// Opening a media file: container, stream selection, interruptible I/O and the probe.
#pragma once

#include <atomic>
#include <string>

#include "av_raii.h"

namespace engine {

// What probe() reports; dimensions are display dimensions (rotation applied).
struct ProbeInfo {
  double duration = 0;
  int width = 0;
  int height = 0;
  double fps = 0;
  int rotation = 0;  // clockwise degrees applied for display: 0, 90, 180, 270
  bool hasAudio = false;
  std::string videoCodec;
  std::string audioCodec;
};

// Largest frame we accept; anything bigger is treated as a broken or hostile file.
constexpr int kMaxDimension = 16384;
constexpr long long kMaxPixels = 8192LL * 8192LL;

class MediaFile {
 public:
  // Opens the container and selects the best decodable video stream (and an audio stream when
  // present). Throws MediaError(UnsupportedMedia) when there is no usable video stream.
  // `cancel` (may be null) aborts blocking I/O and long loops when set.
  MediaFile(const std::string& path, const std::atomic<bool>* cancel);

  AVFormatContext* format() const { return fmt_.get(); }
  AVStream* videoStream() const { return fmt_->streams[videoIndex_]; }
  AVStream* audioStream() const { return audioIndex_ >= 0 ? fmt_->streams[audioIndex_] : nullptr; }
  int videoIndex() const { return videoIndex_; }
  int audioIndex() const { return audioIndex_; }

  int rotation() const { return rotation_; }
  // Container/stream duration in seconds, 0 when unknown.
  double declaredDuration() const;
  // Frame rate from stream metadata, 0 when missing or absurd.
  double declaredFps() const;
  // Stream start time in seconds (subtracted from all timestamps), 0 when unknown.
  double startTime() const { return startTime_; }

  // Seconds of a timestamp in a stream's time base relative to startTime(); NaN if no pts.
  double seconds(int64_t ts, AVRational tb) const;

  bool cancelled() const { return cancel_ && cancel_->load(std::memory_order_relaxed); }
  void throwIfCancelled() const;

 private:
  static int interruptCallback(void* opaque);

  FormatContextPtr fmt_;
  const std::atomic<bool>* cancel_;
  int videoIndex_ = -1;
  int audioIndex_ = -1;
  int rotation_ = 0;
  double startTime_ = 0;
};

// Full probe: opens the file, checks that a video frame actually decodes, and fills in
// duration/fps by scanning packets when the container doesn't declare them.
ProbeInfo probeFile(const std::string& path, const std::atomic<bool>* cancel);

// Valid frame rate from a rational, 0 if unusable.
double sanitizeFps(AVRational r);

}  // namespace engine
