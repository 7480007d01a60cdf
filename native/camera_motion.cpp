#include "camera_motion.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

namespace engine {

namespace {

constexpr int kBlock = 16;         // block side at full analysis resolution
constexpr int kGlobalRange = 8;    // whole-frame search at quarter resolution (= 32 px at full)
constexpr int kCoarseRange = 6;    // block search at half resolution around the global shift
constexpr int kFineRange = 2;      // refinement at full resolution
constexpr double kMinTexture = 3;  // mean gradient a block needs for its vector to mean anything

struct Plane {
  int w = 0, h = 0;
  std::vector<float> p;
  float at(int x, int y) const { return p[static_cast<size_t>(y) * w + x]; }
};

Plane toPlane(const GrayFrame& f, double gain) {
  Plane out{f.width, f.height, std::vector<float>(f.pixels.size())};
  for (size_t i = 0; i < f.pixels.size(); ++i) out.p[i] = static_cast<float>(f.pixels[i] * gain);
  return out;
}

Plane half(const Plane& in) {
  Plane out{in.w / 2, in.h / 2, {}};
  out.p.resize(static_cast<size_t>(out.w) * out.h);
  for (int y = 0; y < out.h; ++y)
    for (int x = 0; x < out.w; ++x)
      out.p[static_cast<size_t>(y) * out.w + x] =
          0.25f * (in.at(2 * x, 2 * y) + in.at(2 * x + 1, 2 * y) + in.at(2 * x, 2 * y + 1) + in.at(2 * x + 1, 2 * y + 1));
  return out;
}

// Mean absolute difference of the block of `cur` at (bx,by) against `prev` displaced by (-vx,-vy)
// (content moved by +v from prev to cur); infinity when the displaced block leaves the frame.
double blockCost(const Plane& prev, const Plane& cur, int bx, int by, int size, int vx, int vy) {
  int px = bx - vx, py = by - vy;
  if (px < 0 || py < 0 || px + size > prev.w || py + size > prev.h) return INFINITY;
  double sum = 0;
  for (int y = 0; y < size; ++y) {
    const float* a = &cur.p[static_cast<size_t>(by + y) * cur.w + bx];
    const float* b = &prev.p[static_cast<size_t>(py + y) * prev.w + px];
    for (int x = 0; x < size; ++x) sum += std::fabs(a[x] - b[x]);
  }
  return sum / (size * size);
}

double texture(const Plane& f, int bx, int by, int size) {
  double g = 0;
  for (int y = by; y < by + size - 1; ++y)
    for (int x = bx; x < bx + size - 1; ++x) g += std::fabs(f.at(x + 1, y) - f.at(x, y)) + std::fabs(f.at(x, y + 1) - f.at(x, y));
  return g / ((size - 1) * (size - 1));
}

// Whole-frame shift (content moved by +v) minimising the mean absolute difference over the overlap.
void globalShift(const Plane& prev, const Plane& cur, int range, int& gx, int& gy) {
  double best = INFINITY;
  gx = gy = 0;
  for (int vy = -range; vy <= range; ++vy)
    for (int vx = -range; vx <= range; ++vx) {
      double sum = 0;
      int n = 0;
      for (int y = std::max(0, vy); y < std::min(cur.h, prev.h + vy); ++y)
        for (int x = std::max(0, vx); x < std::min(cur.w, prev.w + vx); ++x) {
          sum += std::fabs(cur.at(x, y) - prev.at(x - vx, y - vy));
          ++n;
        }
      if (n < cur.w * cur.h / 3) continue;
      double c = sum / n + 0.05 * (std::abs(vx) + std::abs(vy));
      if (c < best) best = c, gx = vx, gy = vy;
    }
}

// Sub-pixel offset of a minimum from its two neighbours' costs (parabola through three points).
double parabolic(double left, double mid, double right) {
  double den = left - 2 * mid + right;
  if (!std::isfinite(den) || den <= 1e-9) return 0;
  return std::clamp(0.5 * (left - right) / den, -0.5, 0.5);
}

struct Vec {
  double x, y;  // block centre relative to the frame centre
  double vx, vy;
};

// Least squares for v = t + k * p (translation + zoom about the centre).
bool fit(const std::vector<Vec>& v, const std::vector<char>& use, double& tx, double& ty, double& k) {
  double n = 0, sx = 0, sy = 0, svx = 0, svy = 0, spp = 0, spv = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!use[i]) continue;
    n += 1;
    sx += v[i].x;
    sy += v[i].y;
    svx += v[i].vx;
    svy += v[i].vy;
    spp += v[i].x * v[i].x + v[i].y * v[i].y;
    spv += v[i].x * v[i].vx + v[i].y * v[i].vy;
  }
  if (n < 3) return false;
  // Normal equations of [1 0 x; 0 1 y] * [tx ty k]' = [vx vy]'.
  double den = spp - (sx * sx + sy * sy) / n;
  k = den > 1e-6 ? (spv - (sx * svx + sy * svy) / n) / den : 0;
  tx = (svx - k * sx) / n;
  ty = (svy - k * sy) / n;
  return true;
}

}  // namespace

GlobalMotion estimateGlobalMotion(const GrayFrame& prevFrame, const GrayFrame& curFrame) {
  GlobalMotion m;
  if (prevFrame.width != curFrame.width || prevFrame.height != curFrame.height) return m;
  const int w = curFrame.width, h = curFrame.height;
  if (w < 4 * kBlock || h < 3 * kBlock) return m;
  double meanPrev = meanLuma(prevFrame), meanCur = meanLuma(curFrame);
  // Brightness matching: a fade scales the picture; compare prev * gain with cur.
  m.gain = meanPrev > 4 ? std::clamp(meanCur / meanPrev, 0.1, 10.0) : 1;
  Plane prev = toPlane(prevFrame, m.gain), cur = toPlane(curFrame, 1);
  Plane prev2 = half(prev), cur2 = half(cur);
  // A fast pan moves the picture further than the block search reaches: start the blocks from
  // a whole-frame shift found at quarter resolution.
  int gx = 0, gy = 0;
  globalShift(half(prev2), half(cur2), kGlobalRange, gx, gy);

  std::vector<Vec> vecs;
  const int margin = kBlock;  // leave room to search
  for (int by = margin / 2; by + kBlock <= h - margin / 2; by += kBlock) {
    for (int bx = margin / 2; bx + kBlock <= w - margin / 2; bx += kBlock) {
      if (texture(cur, bx, by, kBlock) < kMinTexture) continue;
      // Coarse search at half resolution.
      int cbx = bx / 2, cby = by / 2, cs = kBlock / 2;
      double best = INFINITY;
      int bvx = 0, bvy = 0;
      for (int vy = 2 * gy - kCoarseRange; vy <= 2 * gy + kCoarseRange; ++vy)
        for (int vx = 2 * gx - kCoarseRange; vx <= 2 * gx + kCoarseRange; ++vx) {
          double c = blockCost(prev2, cur2, cbx, cby, cs, vx, vy);
          // Prefer the smaller vector on ties (flat or periodic content).
          c += 0.02 * (std::abs(vx) + std::abs(vy));
          if (c < best) best = c, bvx = vx, bvy = vy;
        }
      if (gx != 0 || gy != 0) {
        // Also search around "no motion": a zoom has no single shift, and a subject in front of
        // a panning background keeps its own vector.
        for (int vy = -kCoarseRange; vy <= kCoarseRange; ++vy)
          for (int vx = -kCoarseRange; vx <= kCoarseRange; ++vx) {
            double c = blockCost(prev2, cur2, cbx, cby, cs, vx, vy) + 0.02 * (std::abs(vx) + std::abs(vy));
            if (c < best) best = c, bvx = vx, bvy = vy;
          }
      }
      if (!std::isfinite(best)) continue;
      // Refine at full resolution.
      double fbest = INFINITY;
      int fvx = 2 * bvx, fvy = 2 * bvy;
      for (int vy = 2 * bvy - kFineRange; vy <= 2 * bvy + kFineRange; ++vy)
        for (int vx = 2 * bvx - kFineRange; vx <= 2 * bvx + kFineRange; ++vx) {
          double c = blockCost(prev, cur, bx, by, kBlock, vx, vy);
          if (c < fbest) fbest = c, fvx = vx, fvy = vy;
        }
      if (!std::isfinite(fbest)) continue;
      double sx = parabolic(blockCost(prev, cur, bx, by, kBlock, fvx - 1, fvy), fbest, blockCost(prev, cur, bx, by, kBlock, fvx + 1, fvy));
      double sy = parabolic(blockCost(prev, cur, bx, by, kBlock, fvx, fvy - 1), fbest, blockCost(prev, cur, bx, by, kBlock, fvx, fvy + 1));
      vecs.push_back({bx + kBlock / 2.0 - w / 2.0, by + kBlock / 2.0 - h / 2.0, fvx + sx, fvy + sy});
    }
  }
  // Too little texture to tell (fewer than 6 blocks): no camera model, only brightness matching.
  std::vector<char> use(vecs.size(), 1);
  double tx = 0, ty = 0, k = 0;
  for (int iter = 0; iter < 3 && vecs.size() >= 6; ++iter) {
    if (!fit(vecs, use, tx, ty, k)) break;
    std::vector<double> err(vecs.size());
    for (size_t i = 0; i < vecs.size(); ++i) err[i] = std::hypot(vecs[i].vx - tx - k * vecs[i].x, vecs[i].vy - ty - k * vecs[i].y);
    std::vector<double> sorted = err;
    std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
    double limit = std::max(0.75, 2.5 * sorted[sorted.size() / 2]);
    for (size_t i = 0; i < vecs.size(); ++i) use[i] = err[i] <= limit;
  }
  size_t inl = std::count(use.begin(), use.end(), 1);
  m.inliers = vecs.empty() ? 0 : static_cast<double>(inl) / vecs.size();
  m.valid = inl >= 6 && m.inliers >= 0.5;
  if (!m.valid) tx = ty = k = 0;
  m.dx = tx;
  m.dy = ty;
  m.zoom = k;

  // Residual: cur against prev warped by the model (bilinear), over the pixels that stay inside.
  // Each pixel takes the best match within one pixel of where the model puts it, so fine
  // texture, interpolation and a slightly wrong model leave nothing, while anything that moved
  // on its own (a pixel or more per sample at 160 px, i.e. fast) does.
  const double cx = w / 2.0, cy = h / 2.0, s = 1 + k;
  Plane warped{w, h, std::vector<float>(static_cast<size_t>(w) * h, -1.f)};
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      double qx = cx + (x + 0.5 - cx - tx) / s - 0.5, qy = cy + (y + 0.5 - cy - ty) / s - 0.5;
      if (qx < 0 || qy < 0 || qx >= w - 1 || qy >= h - 1) continue;
      int ix = static_cast<int>(qx), iy = static_cast<int>(qy);
      double fx = qx - ix, fy = qy - iy;
      warped.p[static_cast<size_t>(y) * w + x] = static_cast<float>(
          (1 - fy) * ((1 - fx) * prev.at(ix, iy) + fx * prev.at(ix + 1, iy)) + fy * ((1 - fx) * prev.at(ix, iy + 1) + fx * prev.at(ix + 1, iy + 1)));
    }
  }
  double sum = 0;
  long n = 0;
  for (int y = 1; y < h - 1; ++y) {
    for (int x = 1; x < w - 1; ++x) {
      if (warped.at(x, y) < 0) continue;
      float c = cur.at(x, y), best = 255;
      for (int oy = -1; oy <= 1; ++oy)
        for (int ox = -1; ox <= 1; ++ox) {
          float v = warped.at(x + ox, y + oy);
          if (v >= 0) best = std::min(best, std::fabs(c - v));
        }
      sum += best;
      ++n;
    }
  }
  m.residual = n > w * h / 4 ? sum / n : frameDifference(prevFrame, curFrame).meanAbs;
  return m;
}

}  // namespace engine
