// Cutting spans of a video into an MP4 (one span: a clip; several: a reel, joined in order).
//
// Video: stream copy when a single span starts on a keyframe and its packets can be cut at the
// end without breaking references (no frame reordering, or the span runs to the end of the
// stream) and MP4 can carry the codec; otherwise every frame of the spans is decoded and
// re-encoded with libx264 (frame-accurate). Audio is always re-encoded to AAC (cheap, and the
// only way to join spans or carry Opus/Vorbis sources cleanly). The display matrix of the
// source is kept, so players rotate the clip like the video.
#pragma once

#include <atomic>
#include <string>
#include <vector>

namespace engine {

struct CutSpan {
  double start = 0;
  double end = 0;
};

struct CutResult {
  double duration = 0;  // seconds of video written
  bool copied = false;  // video stream-copied (true) or re-encoded
  int frames = 0;
};

// Writes `output` (MP4). Throws MediaError: UnsupportedMedia for unusable spans or sources,
// DecodeError when nothing could be decoded, Internal for encoder or write failures.
CutResult cutSpans(const std::string& input, const std::string& output, const std::vector<CutSpan>& spans,
                   const std::atomic<bool>& cancel, bool allowCopy = true);

}  // namespace engine
