#include "features.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace engine {

FrameDiff frameDifference(const GrayFrame& a, const GrayFrame& b) {
  FrameDiff d;
  if (a.width != b.width || a.height != b.height || a.pixels.empty()) return d;
  const int w = a.width, h = a.height;
  uint64_t total = 0, moving = 0;
  double wx = 0, wy = 0, wsum = 0;
  for (int y = 0; y < h; ++y) {
    const uint8_t* pa = a.pixels.data() + static_cast<size_t>(y) * w;
    const uint8_t* pb = b.pixels.data() + static_cast<size_t>(y) * w;
    uint32_t rowTotal = 0, rowWeight = 0;
    double rowX = 0;
    for (int x = 0; x < w; ++x) {
      int diff = std::abs(static_cast<int>(pa[x]) - static_cast<int>(pb[x]));
      rowTotal += diff;
      if (diff > kMovingThreshold) {
        ++moving;
        rowWeight += diff;
        rowX += static_cast<double>(diff) * x;
      }
    }
    total += rowTotal;
    wsum += rowWeight;
    wx += rowX;
    wy += static_cast<double>(rowWeight) * y;
  }
  const double n = static_cast<double>(w) * h;
  d.meanAbs = total / n;
  d.movingFraction = moving / n;
  if (wsum > 0) {
    d.centroidX = (wx / wsum + 0.5) / w;
    d.centroidY = (wy / wsum + 0.5) / h;
  }
  return d;
}

Histogram lumaHistogram(const GrayFrame& frame) {
  Histogram hist{};
  for (uint8_t p : frame.pixels) hist[p * kHistogramBins / 256] += 1;
  const float n = frame.pixels.empty() ? 1.f : static_cast<float>(frame.pixels.size());
  for (float& v : hist) v /= n;
  return hist;
}

double histogramDistance(const Histogram& a, const Histogram& b) {
  double sum = 0;
  for (int i = 0; i < kHistogramBins; ++i) sum += std::fabs(a[i] - b[i]);
  return sum / 2;
}

double meanLuma(const GrayFrame& frame) {
  if (frame.pixels.empty()) return 0;
  uint64_t sum = 0;
  for (uint8_t p : frame.pixels) sum += p;
  return static_cast<double>(sum) / frame.pixels.size();
}

void AudioMeter::add(const float* samples, int count, double startTime, int sampleRate) {
  if (count <= 0 || sampleRate <= 0 || !std::isfinite(startTime) || startTime < 0) return;
  const double dt = 1.0 / sampleRate;
  // Windows are addressed by time; stop at a sane bound so a bogus timestamp can't allocate GBs.
  constexpr double kMaxSeconds = 48 * 3600.0;
  size_t idx = static_cast<size_t>(startTime / window_);
  double windowEnd = (idx + 1) * window_;
  double t = startTime;
  for (int i = 0; i < count; ++i, t += dt) {
    if (t >= windowEnd) {
      idx = static_cast<size_t>(t / window_);
      windowEnd = (idx + 1) * window_;
    }
    if (t > kMaxSeconds) return;
    if (idx >= sumSquares_.size()) {
      sumSquares_.resize(idx + 1, 0);
      counts_.resize(idx + 1, 0);
      peaks_.resize(idx + 1, 0);
    }
    float s = samples[i];
    if (!std::isfinite(s)) continue;
    sumSquares_[idx] += static_cast<double>(s) * s;
    counts_[idx] += 1;
    float a = std::fabs(s);
    if (a > peaks_[idx]) peaks_[idx] = a;
  }
}

double AudioMeter::rms(size_t i) const { return counts_[i] > 0 ? std::sqrt(sumSquares_[i] / counts_[i]) : 0; }

double toDb(double linear) { return linear > 1e-5 ? 20 * std::log10(linear) : -100; }

}  // namespace engine
