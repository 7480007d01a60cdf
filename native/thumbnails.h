// Pictures made during the analysis pass from frames it already decodes: one thumbnail per
// segment (its most representative sample) and a storyboard (tiles every few seconds packed
// into sprite JPEGs, described for a WebVTT thumbnails track).
#pragma once

#include <string>
#include <vector>

#include "features.h"
#include "value.h"

namespace engine {

struct MediaOptions {
  std::string thumbnailFile;  // "{n}" = segment index; empty: no thumbnails
  std::string spriteFile;     // "{n}" = sprite number; empty: no storyboard
  int thumbnailWidth = 320;
  int tileWidth = 160;
  int columns = 10;
  int rows = 10;
};

// Width x height for a picture `maxWidth` wide at most (never wider than the video), both even.
void pictureSize(int dispW, int dispH, int maxWidth, int& w, int& h);

// Keeps a few RGB samples of the current segment and picks the one whose luma histogram is
// closest to the segment's mean histogram: the look the segment has most of the time, not a
// cut, a flash or a fade-in frame.
class ThumbnailPicker {
 public:
  // Colour conversions cost: a few candidates, spread over the segment, are enough to choose
  // from (every sample still counts towards the mean histogram).
  static constexpr int kMaxCandidates = 4;

  // The k-th sample of a segment that should hold about `expected` samples: keep it?
  bool wants(int k, double expected) const;
  void addHistogram(const Histogram& hist);
  void addCandidate(const Histogram& hist, double brightness, bool cut, std::vector<uint8_t> rgb, int w, int h);
  // Writes the pick (or the previous segment's pick when this one had no samples). False with a
  // reason in `error` when nothing could be written.
  bool write(const std::string& path, std::string& error);
  void clear();

 private:
  struct Candidate {
    Histogram hist;
    double brightness;
    bool cut;
    std::vector<uint8_t> rgb;
  };
  std::vector<Candidate> candidates_;
  Histogram sum_{};
  int histograms_ = 0;
  int width_ = 0, height_ = 0;
  std::vector<uint8_t> previous_;  // last written picture
  int previousW_ = 0, previousH_ = 0;
};

class Storyboard {
 public:
  // Tiles every `interval` seconds (1 s to 10 s: about 100 tiles for the whole video).
  Storyboard(const MediaOptions& options, double duration, int dispW, int dispH);
  int tileWidth() const { return tileW_; }
  int tileHeight() const { return tileH_; }
  bool due(double t) const { return t >= next_ - 1e-6; }
  void add(double t, const std::vector<uint8_t>& rgb);
  // Writes the last sprite; {interval, tileWidth, tileHeight, sprites:[{width,height}],
  // tiles:[{start,end,sprite,x,y}]}, or null when a sprite could not be written.
  Value finish();

 private:
  void flush();
  MediaOptions opt_;
  double duration_, interval_, next_ = 0;
  int tileW_ = 0, tileH_ = 0;
  std::vector<uint8_t> canvas_;
  int inCanvas_ = 0;
  struct Tile {
    double t;
    int sprite, x, y;
  };
  std::vector<Tile> tiles_;
  std::vector<std::pair<int, int>> sprites_;
  bool failed_ = false;
};

}  // namespace engine
