// Per-frame and per-window measurements: motion between gray frames, luma histograms,
// and audio loudness windows.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" {
#include <libavutil/frame.h>
}

namespace engine {

struct GrayFrame {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;
};

struct FrameDiff {
  double meanAbs = 0;         // mean absolute luma difference, 0..255
  double movingFraction = 0;  // share of pixels that changed noticeably
  double centroidX = -1;      // centroid of the changed pixels, 0..1 (-1 when nothing moved)
  double centroidY = -1;
};

// Pixels whose luma changes by more than this count as moving (filters sensor noise).
constexpr int kMovingThreshold = 12;

FrameDiff frameDifference(const GrayFrame& a, const GrayFrame& b);

constexpr int kHistogramBins = 32;
using Histogram = std::array<float, kHistogramBins>;

Histogram lumaHistogram(const GrayFrame& frame);
// A cheap fingerprint of a decoded frame: a sparse 64x36 grid of luma samples read straight
// from its 8-bit luma plane, and their histogram. Used on every decoded frame to find cuts.
struct FrameSignature {
  static constexpr int kW = 64, kH = 36;
  std::array<uint8_t, kW * kH> grid{};
  Histogram hist{};
};
// False for pixel formats without an 8-bit luma plane.
bool frameSignature(const AVFrame* frame, FrameSignature& out);
// Mean absolute difference of two signatures' grids (0..255).
double signatureDistance(const FrameSignature& a, const FrameSignature& b);
// 0 (same distribution) .. 1 (disjoint).
double histogramDistance(const Histogram& a, const Histogram& b);
double meanLuma(const GrayFrame& frame);

// Accumulates mono samples into fixed windows (RMS and peak per window).
class AudioMeter {
 public:
  explicit AudioMeter(double windowSeconds) : window_(windowSeconds) {}
  void add(const float* samples, int count, double startTime, int sampleRate);

  double window() const { return window_; }
  size_t size() const { return sumSquares_.size(); }
  bool hasData(size_t i) const { return counts_[i] > 0; }
  double rms(size_t i) const;
  double peak(size_t i) const { return peaks_[i]; }
  double sumSquares(size_t i) const { return sumSquares_[i]; }
  double count(size_t i) const { return counts_[i]; }

 private:
  double window_;
  std::vector<double> sumSquares_;
  std::vector<double> counts_;
  std::vector<float> peaks_;
};

double toDb(double linear);

}  // namespace engine
