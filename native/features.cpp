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

bool frameSignature(const AVFrame* frame, FrameSignature& out) {
  switch (frame->format) {
    case AV_PIX_FMT_YUV420P: case AV_PIX_FMT_YUVJ420P: case AV_PIX_FMT_YUV422P: case AV_PIX_FMT_YUVJ422P:
    case AV_PIX_FMT_YUV444P: case AV_PIX_FMT_YUVJ444P: case AV_PIX_FMT_YUV440P: case AV_PIX_FMT_YUVJ440P:
    case AV_PIX_FMT_YUV411P: case AV_PIX_FMT_YUV410P: case AV_PIX_FMT_YUVA420P: case AV_PIX_FMT_NV12:
    case AV_PIX_FMT_NV21: case AV_PIX_FMT_GRAY8:
      break;
    default:
      return false;
  }
  const int w = frame->width, h = frame->height;
  if (w <= 0 || h <= 0 || !frame->data[0] || frame->linesize[0] < w) return false;
  out.hist.fill(0);
  constexpr int W = FrameSignature::kW, H = FrameSignature::kH;
  for (int gy = 0; gy < H; ++gy) {
    int y = static_cast<int>((gy + 0.5) * h / H);
    const uint8_t* row = frame->data[0] + static_cast<ptrdiff_t>(y) * frame->linesize[0];
    for (int gx = 0; gx < W; ++gx) {
      uint8_t v = row[static_cast<int>((gx + 0.5) * w / W)];
      out.grid[gy * W + gx] = v;
      out.hist[v * kHistogramBins / 256] += 1;
    }
  }
  for (float& v : out.hist) v /= static_cast<float>(W * H);
  return true;
}

double signatureDistance(const FrameSignature& a, const FrameSignature& b) {
  int sum = 0;
  for (size_t i = 0; i < a.grid.size(); ++i) sum += std::abs(static_cast<int>(a.grid[i]) - static_cast<int>(b.grid[i]));
  return static_cast<double>(sum) / a.grid.size();
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
