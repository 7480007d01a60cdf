#include "thumbnails.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "jpeg.h"

namespace engine {

void pictureSize(int dispW, int dispH, int maxWidth, int& w, int& h) {
  w = std::max(2, std::min(maxWidth, dispW) & ~1);
  h = std::max(2, static_cast<int>(std::lround(static_cast<double>(dispH) * w / std::max(1, dispW))) & ~1);
}

bool ThumbnailPicker::wants(int k, double expected) const {
  int stride = std::max(1, static_cast<int>(std::ceil(expected / kMaxCandidates)));
  return k % stride == stride / 2 || (candidates_.empty() && k > stride / 2);
}

void ThumbnailPicker::addHistogram(const Histogram& hist) {
  for (int i = 0; i < kHistogramBins; ++i) sum_[i] += hist[i];
  ++histograms_;
}

void ThumbnailPicker::addCandidate(const Histogram& hist, double brightness, bool cut, std::vector<uint8_t> rgb, int w,
                                   int h) {
  if (static_cast<int>(candidates_.size()) >= kMaxCandidates) return;
  width_ = w;
  height_ = h;
  candidates_.push_back({hist, brightness, cut, std::move(rgb)});
}

bool ThumbnailPicker::write(const std::string& path, std::string& error) {
  const std::vector<uint8_t>* pick = nullptr;
  if (!candidates_.empty()) {
    Histogram mean{};
    for (int i = 0; i < kHistogramBins; ++i) mean[i] = histograms_ > 0 ? sum_[i] / histograms_ : 0;
    double best = 1e9;
    for (const Candidate& c : candidates_) {
      // A near-black frame (a fade) or the frame right after a cut is a poor face for a segment.
      double score = histogramDistance(c.hist, mean) + (c.brightness < 16 ? 1.0 : 0) + (c.cut ? 0.5 : 0);
      if (score < best) {
        best = score;
        pick = &c.rgb;
      }
    }
    previous_ = *pick;
    previousW_ = width_;
    previousH_ = height_;
  } else if (!previous_.empty()) {
    pick = &previous_;
  }
  if (!pick) {
    error = "no sampled frame";
    return false;
  }
  return writeJpeg(pick->data(), previousW_, previousH_, path, error);
}

void ThumbnailPicker::clear() {
  candidates_.clear();
  sum_ = Histogram{};
  histograms_ = 0;
}

Storyboard::Storyboard(const MediaOptions& options, double duration, int dispW, int dispH)
    : opt_(options), duration_(duration) {
  interval_ = std::clamp(std::ceil(duration / 100.0), 1.0, 10.0);
  pictureSize(dispW, dispH, opt_.tileWidth, tileW_, tileH_);
  opt_.columns = std::max(1, opt_.columns);
  opt_.rows = std::max(1, opt_.rows);
}

void Storyboard::add(double t, const std::vector<uint8_t>& rgb) {
  if (failed_ || rgb.size() != static_cast<size_t>(tileW_) * tileH_ * 3) return;
  while (next_ <= t + 1e-6) next_ += interval_;
  const int perSprite = opt_.columns * opt_.rows;
  const int canvasW = opt_.columns * tileW_;
  if (canvas_.empty()) canvas_.assign(static_cast<size_t>(canvasW) * opt_.rows * tileH_ * 3, 0);
  int col = inCanvas_ % opt_.columns, row = inCanvas_ / opt_.columns;
  for (int y = 0; y < tileH_; ++y) {
    std::memcpy(canvas_.data() + (static_cast<size_t>(row * tileH_ + y) * canvasW + col * tileW_) * 3,
                rgb.data() + static_cast<size_t>(y) * tileW_ * 3, static_cast<size_t>(tileW_) * 3);
  }
  tiles_.push_back({t, static_cast<int>(sprites_.size()), col * tileW_, row * tileH_});
  if (++inCanvas_ == perSprite) flush();
}

void Storyboard::flush() {
  if (inCanvas_ == 0 || failed_) return;
  const int canvasW = opt_.columns * tileW_;
  // A last, partly filled sprite keeps only the rows (and, with one row, the columns) it uses.
  int rowsUsed = (inCanvas_ + opt_.columns - 1) / opt_.columns;
  int w = rowsUsed == 1 ? inCanvas_ * tileW_ : canvasW, h = rowsUsed * tileH_;
  std::vector<uint8_t> picture(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    std::memcpy(picture.data() + static_cast<size_t>(y) * w * 3, canvas_.data() + static_cast<size_t>(y) * canvasW * 3,
                static_cast<size_t>(w) * 3);
  std::string error;
  if (!writeJpeg(picture.data(), w, h, numberedPath(opt_.spriteFile, static_cast<long long>(sprites_.size())), error)) {
    failed_ = true;
    return;
  }
  sprites_.emplace_back(w, h);
  inCanvas_ = 0;
  std::fill(canvas_.begin(), canvas_.end(), 0);
}

Value Storyboard::finish() {
  flush();
  if (failed_ || tiles_.empty()) return Value();
  Value sprites = Value::array();
  for (auto [w, h] : sprites_) {
    Value s = Value::object();
    s.set("width", w).set("height", h);
    sprites.push(std::move(s));
  }
  Value tiles = Value::array();
  for (size_t i = 0; i < tiles_.size(); ++i) {
    const Tile& t = tiles_[i];
    Value v = Value::object();
    double start = i == 0 ? 0.0 : t.t;
    double end = i + 1 < tiles_.size() ? tiles_[i + 1].t : std::max(duration_, t.t + 0.001);
    v.set("start", start).set("end", end).set("sprite", t.sprite).set("x", t.x).set("y", t.y);
    tiles.push(std::move(v));
  }
  Value out = Value::object();
  out.set("interval", interval_)
      .set("tileWidth", tileW_)
      .set("tileHeight", tileH_)
      .set("sprites", std::move(sprites))
      .set("tiles", std::move(tiles));
  return out;
}

}  // namespace engine
