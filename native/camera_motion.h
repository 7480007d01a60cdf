// Global (camera) motion between two sampled gray frames: block matching on a coarse-to-fine
// pyramid, a robust fit of a translation + zoom model to the block vectors, and what is left
// once the previous frame is warped by that model and brightness-matched (subject motion).
#pragma once

#include "features.h"

namespace engine {

struct GlobalMotion {
  bool valid = false;    // enough textured blocks agreed on one model
  double dx = 0;         // translation of the picture content, pixels of the analysis frame
  double dy = 0;
  double zoom = 0;       // scale - 1 (positive: content grows, the camera zooms in)
  double gain = 1;       // brightness ratio cur / prev (a fade moves it away from 1)
  double residual = 0;   // mean absolute luma difference after compensation, 0..255
  double inliers = 0;    // share of textured blocks that follow the model
};

GlobalMotion estimateGlobalMotion(const GrayFrame& prev, const GrayFrame& cur);

}  // namespace engine
