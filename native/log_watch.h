// FFmpeg reports some conditions only through its log (a Matroska file that "ended
// prematurely" reads like a clean end of file otherwise). The addon keeps FFmpeg quiet and
// routes its log through a callback that lets the calling thread watch for them.
#pragma once

namespace engine {

// Installs the callback (once; messages are otherwise dropped, as with AV_LOG_QUIET).
void installLogWatch();

// While alive, notes on this thread whether a demuxer said the file ended before its data did.
class TruncationWatch {
 public:
  TruncationWatch();
  ~TruncationWatch();
  TruncationWatch(const TruncationWatch&) = delete;
  TruncationWatch& operator=(const TruncationWatch&) = delete;
  bool seen() const { return seen_; }

 private:
  bool seen_ = false;
  TruncationWatch* previous_;
};

}  // namespace engine
