#include "frames.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <memory>
#include <numeric>

#include "decoder.h"
#include "media_file.h"

namespace engine {

namespace {

// Pulls decoded frames one at a time, with seeking.
class FrameReader {
 public:
  FrameReader(const std::string& path, const std::atomic<bool>& cancel) : path_(path), cancel_(cancel) { open(); }

  // Next frame in presentation order (with its time), or nullptr at the end of the stream.
  AVFrame* next(double& t) {
    while (queue_.empty() && !eof_) pump();
    if (queue_.empty()) return nullptr;
    current_ = std::move(queue_.front());
    queue_.pop_front();
    t = file_->seconds(current_->best_effort_timestamp, file_->videoStream()->time_base);
    if (!std::isfinite(t)) t = lastT_ < 0 ? 0 : lastT_ + frameStep_;
    lastT_ = t;
    return current_.get();
  }

  void seek(double target) {
    queue_.clear();
    eof_ = false;
    lastT_ = -1;
    AVStream* vs = file_->videoStream();
    int64_t ts = static_cast<int64_t>(std::floor((std::max(0.0, target) + file_->startTime()) / av_q2d(vs->time_base)));
    if (av_seek_frame(file_->format(), file_->videoIndex(), ts, AVSEEK_FLAG_BACKWARD) < 0) {
      open();  // can't seek: start over from the beginning
      return;
    }
    decoder_->reset();
  }

  int rotation() const { return file_->rotation(); }

 private:
  void open() {
    decoder_.reset();
    file_ = std::make_unique<MediaFile>(path_, &cancel_);
    AVFormatContext* fmt = file_->format();
    for (unsigned i = 0; i < fmt->nb_streams; ++i)
      if (static_cast<int>(i) != file_->videoIndex()) fmt->streams[i]->discard = AVDISCARD_ALL;
    DecoderOptions opt;
    opt.threads = 1;
    decoder_ = std::make_unique<VideoDecoder>(file_->videoStream(), opt);
    double fps = file_->declaredFps();
    frameStep_ = fps > 0 ? 1.0 / fps : 0.04;
    queue_.clear();
    eof_ = false;
    lastT_ = -1;
    if (!pkt_) pkt_ = makePacket();
  }

  void pump() {
    file_->throwIfCancelled();
    FrameCallback push = [this](AVFrame* f) {
      FramePtr copy = makeFrame();
      if (av_frame_ref(copy.get(), f) >= 0) queue_.push_back(std::move(copy));
    };
    int errors = 0;
    while (true) {
      int err = av_read_frame(file_->format(), pkt_.get());
      file_->throwIfCancelled();
      if (err == AVERROR(EAGAIN)) continue;
      if (err < 0) {
        if (err != AVERROR_EOF && ++errors < 20 && !(file_->format()->pb && avio_feof(file_->format()->pb))) continue;
        decoder_->decode(nullptr, push);
        eof_ = true;
        return;
      }
      PacketRef unref(pkt_.get());
      if (pkt_->stream_index != file_->videoIndex()) continue;
      decoder_->decode(pkt_.get(), push);
      return;
    }
  }

  std::string path_;
  const std::atomic<bool>& cancel_;
  std::unique_ptr<MediaFile> file_;
  std::unique_ptr<VideoDecoder> decoder_;
  PacketPtr pkt_;
  std::deque<FramePtr> queue_;
  FramePtr current_;
  bool eof_ = false;
  double lastT_ = -1;
  double frameStep_ = 0.04;
};

std::string clock(double t) {
  int s = static_cast<int>(std::max(0.0, t));
  char buf[32];
  snprintf(buf, sizeof buf, "%02d:%02d", s / 60, s % 60);
  return buf;
}

}  // namespace

std::vector<ExtractedFrame> extractFrames(const std::string& path, const std::vector<double>& timestamps, int maxSide,
                                          const std::atomic<bool>& cancel) {
  std::vector<ExtractedFrame> out(timestamps.size());
  if (timestamps.empty()) {
    MediaFile check(path, &cancel);  // still report unopenable files
    return out;
  }
  std::vector<size_t> order(timestamps.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return timestamps[a] < timestamps[b]; });

  FrameReader reader(path, cancel);
  FrameScaler scaler(AV_PIX_FMT_RGB24, reader.rotation());
  const bool swap = reader.rotation() == 90 || reader.rotation() == 270;
  FramePtr held = makeFrame();  // the most recent decoded frame
  double heldT = -1;
  bool haveHeld = false, atEnd = false;
  constexpr double kReadAheadLimit = 2.0;  // seconds; further jumps seek instead of decoding through

  for (size_t k = 0; k < order.size(); ++k) {
    if (cancel.load()) throw MediaError(ErrorCode::Cancelled, "frame extraction cancelled");
    double target = std::max(0.0, timestamps[order[k]]);
    const double eps = 1e-3;
    bool needSeek = !haveHeld || target < heldT - eps || target > heldT + kReadAheadLimit;
    if (needSeek && !(atEnd && haveHeld && target >= heldT)) {
      reader.seek(target);
      haveHeld = false;
      atEnd = false;
    }
    // Decode forward until the held frame reaches the target.
    while (!atEnd && !(haveHeld && heldT >= target - eps)) {
      double t;
      AVFrame* f = reader.next(t);
      if (!f) {
        atEnd = true;
        break;
      }
      if (haveHeld && t < heldT - eps) continue;  // out-of-order junk
      av_frame_unref(held.get());
      if (av_frame_ref(held.get(), f) < 0) continue;
      heldT = t;
      haveHeld = true;
    }
    if (!haveHeld) {
      throw MediaError(ErrorCode::DecodeError, "no frame could be decoded at " + clock(target));
    }
    ExtractedFrame& ef = out[order[k]];
    int dispW = swap ? held->height : held->width;
    int dispH = swap ? held->width : held->height;
    fitSize(dispW, dispH, maxSide, maxSide, ef.width, ef.height);
    if (!scaler.convert(held.get(), ef.width, ef.height, ef.rgb)) {
      throw MediaError(ErrorCode::DecodeError, "a frame at " + clock(target) + " could not be converted");
    }
    ef.timestamp = std::max(0.0, heldT);
  }
  return out;
}

}  // namespace engine
