#include "job.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <memory>
#include <vector>

#include "decoder.h"
#include "features.h"
#include "camera_motion.h"
#include "jpeg.h"
#include "log_watch.h"
#include "media_file.h"

namespace engine {

namespace {

using Clock = std::chrono::steady_clock;

constexpr double kBinSeconds = 0.5;       // packet statistics resolution
constexpr double kAudioWindow = 0.05;     // loudness window
constexpr double kMaxTimestampJump = 30;  // seconds; larger forward jumps are treated as corrupt
constexpr size_t kMaxSegments = 5000;

// Rate-limits progress events.
class ProgressReporter {
 public:
  ProgressReporter(const EventSink& emit, const char* phase) : emit_(emit), phase_(phase) {}
  void report(double fraction, bool force = false) {
    if (!std::isfinite(fraction)) return;
    fraction = std::clamp(fraction, 0.0, 1.0);
    auto now = Clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(150)) return;
    if (fraction < lastFraction_) fraction = lastFraction_;
    last_ = now;
    lastFraction_ = fraction;
    Value v = Value::object();
    v.set("type", "progress").set("phase", phase_).set("fraction", fraction);
    emit_(std::move(v));
  }

 private:
  const EventSink& emit_;
  const char* phase_;
  Clock::time_point last_{};
  double lastFraction_ = 0;
};

struct Segment {
  double start = 0;
  double end = 0;
};

struct SegmentAccumulator {
  int samples = 0;
  int motionSamples = 0;
  double motionSum = 0;
  double motionMax = 0;
  double brightnessSum = 0;
  std::vector<double> cutTimes;
  std::vector<double> t, energy, cx, cy, area;
  // Camera (global) motion and what moves once it is compensated (see camera_motion.h).
  int cameraSamples = 0;
  double camDx = 0, camDy = 0, camSpeed = 0, camZoom = 0, camJitter = 0, camFade = 0;
  double subjectSum = 0, subjectMax = 0;

  void clear() { *this = SegmentAccumulator(); }
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  return v[mid];
}

Value infoEvent(const MediaFile& file) {
  AVStream* vs = file.videoStream();
  bool swap = file.rotation() == 90 || file.rotation() == 270;
  Value v = Value::object();
  v.set("type", "info")
      .set("duration", file.declaredDuration())
      .set("width", swap ? vs->codecpar->height : vs->codecpar->width)
      .set("height", swap ? vs->codecpar->width : vs->codecpar->height)
      .set("fps", file.declaredFps())
      .set("rotation", file.rotation())
      .set("hasAudio", file.audioStream() != nullptr)
      .set("videoCodec", avcodec_get_name(vs->codecpar->codec_id));
  if (file.audioStream()) v.set("audioCodec", avcodec_get_name(file.audioStream()->codecpar->codec_id));
  return v;
}

// Reads packets until EOF, tolerating a few read errors; false at the end.
bool readPacket(MediaFile& file, AVPacket* pkt, int& consecutiveErrors, bool* endedWithError = nullptr) {
  while (true) {
    file.throwIfCancelled();
    int err = av_read_frame(file.format(), pkt);
    if (err >= 0) {
      consecutiveErrors = 0;
      return true;
    }
    file.throwIfCancelled();
    if (err == AVERROR_EOF) return false;
    if (err == AVERROR(EAGAIN)) continue;
    AVIOContext* pb = file.format()->pb;
    if (++consecutiveErrors > 20 || (pb && avio_feof(pb))) {
      if (endedWithError) *endedWithError = true;
      return false;
    }
  }
}

double fileFraction(const MediaFile& file) {
  AVIOContext* pb = file.format()->pb;
  if (!pb) return NAN;
  int64_t size = avio_size(pb);
  if (size <= 0) return NAN;
  return static_cast<double>(avio_tell(pb)) / size;
}

struct Baseline {
  double duration = 0;
  double segmentDuration = 0;
  std::vector<Segment> segments;
};

// Pass 1: demux everything once. Video packet sizes give a cheap activity measure for every
// segment; the audio track decodes fast, so loudness is known for the whole video up front.
Baseline baselinePass(const std::string& path, const JobOptions& opt, const std::atomic<bool>& cancel,
                      const EventSink& emit) {
  TruncationWatch truncation;
  MediaFile file(path, &cancel);
  emit(infoEvent(file));
  AVFormatContext* fmt = file.format();
  std::unique_ptr<AudioDecoder> audio;
  bool audioFailed = false;
  if (opt.measureAudio && file.audioStream()) {
    try {
      audio = std::make_unique<AudioDecoder>(file.audioStream(), file.startTime());
    } catch (const MediaError&) {
      audioFailed = true;  // analyse the picture anyway
    }
  }
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    bool keep = static_cast<int>(i) == file.videoIndex() || (audio && static_cast<int>(i) == file.audioIndex());
    if (!keep) fmt->streams[i]->discard = AVDISCARD_ALL;
  }
  AVStream* vs = file.videoStream();
  const double declared = file.declaredDuration();
  AudioMeter meter(kAudioWindow);
  std::vector<double> binBytes, binFrames;
  double videoEnd = 0, acceptedMax = 0;
  long long videoPackets = 0;
  PacketPtr pkt = makePacket();
  ProgressReporter progress(emit, "baseline");
  int readErrors = 0;
  bool endedWithError = false;
  std::vector<double> videoPts;  // for the frame-timing statistics
  AudioDecoder::SampleCallback onSamples = [&](const float* s, int n, double t) {
    meter.add(s, n, t, audio->sampleRate());
  };
  while (readPacket(file, pkt.get(), readErrors, &endedWithError)) {
    PacketRef unref(pkt.get());
    if (pkt->stream_index == file.videoIndex()) {
      ++videoPackets;
      double t = file.seconds(pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts, vs->time_base);
      if (std::isfinite(t) && t >= -1 && t <= acceptedMax + kMaxTimestampJump) {
        t = std::max(0.0, t);
        acceptedMax = std::max(acceptedMax, t);
        double dur = pkt->duration > 0 ? pkt->duration * av_q2d(vs->time_base) : 0;
        if (!std::isfinite(dur) || dur > 10) dur = 0;
        videoEnd = std::max(videoEnd, t + dur);
        if (pkt->pts != AV_NOPTS_VALUE && videoPts.size() < 2000000) videoPts.push_back(t);
        size_t bin = static_cast<size_t>(t / kBinSeconds);
        if (bin >= binBytes.size()) {
          binBytes.resize(bin + 1, 0);
          binFrames.resize(bin + 1, 0);
        }
        // Keyframes are big whatever happens on screen; predicted frames grow with change.
        if (!(pkt->flags & AV_PKT_FLAG_KEY)) binBytes[bin] += pkt->size;
        binFrames[bin] += 1;
      }
      double f = fileFraction(file);
      progress.report(std::isfinite(f) ? f : (declared > 0 ? t / declared : 0));
    } else if (audio && pkt->stream_index == file.audioIndex()) {
      audio->decode(pkt.get(), onSamples);
    }
  }
  if (audio) audio->decode(nullptr, onSamples);
  file.throwIfCancelled();
  if (videoPackets == 0) throw MediaError(ErrorCode::DecodeError, "the video stream contains no data");

  Baseline base;
  double fps = file.declaredFps();
  base.duration = videoEnd > 0 ? videoEnd : (declared > 0 ? declared : videoPackets / (fps > 0 ? fps : 25));
  if (declared > 0 && videoEnd > 0 && videoEnd < declared && declared - videoEnd < 0.5) base.duration = declared;

  double segDur = opt.segmentDuration > 0 ? opt.segmentDuration : 3;
  if (base.duration / segDur > kMaxSegments) segDur = base.duration / kMaxSegments;
  base.segmentDuration = segDur;
  for (double start = 0; start < base.duration - 1e-6; start += segDur) {
    double end = std::min(base.duration, start + segDur);
    // A sliver at the end joins the previous segment.
    if (!base.segments.empty() && end - start < segDur * 0.25) {
      base.segments.back().end = end;
      break;
    }
    base.segments.push_back({start, end});
  }

  // Audio statistics over the whole track.
  bool audioMeasured = audio && meter.size() > 0;
  std::vector<double> windowDb;
  if (audioMeasured) {
    windowDb.reserve(meter.size());
    for (size_t i = 0; i < meter.size(); ++i)
      if (meter.hasData(i)) windowDb.push_back(toDb(meter.rms(i)));
    audioMeasured = !windowDb.empty();
  }
  double medianWindowDb = audioMeasured ? median(windowDb) : -100;
  double maxWindowDb = audioMeasured ? *std::max_element(windowDb.begin(), windowDb.end()) : -100;
  // A "peak" is a window that jumps well above the track's typical level.
  double peakThresholdDb = std::max(medianWindowDb + 12, -45.0);

  Value segs = Value::array();
  for (const Segment& s : base.segments) {
    Value seg = Value::object();
    seg.set("start", s.start).set("end", s.end);
    double bytes = 0, frames = 0;
    for (size_t b = static_cast<size_t>(s.start / kBinSeconds); b < binBytes.size() && b * kBinSeconds < s.end - 1e-9; ++b) {
      bytes += binBytes[b];
      frames += binFrames[b];
    }
    seg.set("activity", bytes / std::max(1e-3, s.end - s.start) / 1000.0);  // kB/s of predicted frames
    seg.set("packets", frames);
    if (audioMeasured) {
      double sumSq = 0, count = 0, peak = 0, loudestDb = -101, loudestAt = s.start;
      int peaks = 0;
      bool above = false;
      size_t first = static_cast<size_t>(s.start / kAudioWindow);
      for (size_t w = first; w < meter.size() && w * kAudioWindow < s.end - 1e-9; ++w) {
        if (!meter.hasData(w)) continue;
        sumSq += meter.sumSquares(w);
        count += meter.count(w);
        peak = std::max(peak, meter.peak(w));
        double db = toDb(meter.rms(w));
        if (db > loudestDb) {
          loudestDb = db;
          loudestAt = (w + 0.5) * kAudioWindow;
        }
        bool isAbove = db > peakThresholdDb;
        if (isAbove && !above) ++peaks;
        above = isAbove;
      }
      seg.set("audioRms", count > 0 ? toDb(std::sqrt(sumSq / count)) : -100.0)
          .set("audioPeak", toDb(peak))
          .set("audioLoudest", loudestDb < -100 ? -100.0 : loudestDb)
          .set("audioLoudestAt", std::min(loudestAt, s.end))
          .set("audioPeaks", peaks);
    }
    segs.push(std::move(seg));
  }
  Value audioInfo = Value::object();
  audioInfo.set("measured", audioMeasured)
      .set("failed", audioFailed || (audio && audio->errors() > 0 && !audioMeasured))
      .set("medianWindowDb", medianWindowDb)
      .set("maxWindowDb", maxWindowDb)
      .set("peakThresholdDb", peakThresholdDb);
  // Frame timing: the spread of the intervals between presentation times tells a variable
  // frame rate from a constant one.
  Value timing = Value::object();
  {
    std::sort(videoPts.begin(), videoPts.end());
    std::vector<double> iv;
    for (size_t i = 1; i < videoPts.size(); ++i)
      if (videoPts[i] - videoPts[i - 1] > 1e-6) iv.push_back(videoPts[i] - videoPts[i - 1]);
    double med = median(iv), irregular = 0, longest = 0;
    for (double d : iv) {
      if (std::fabs(d - med) > 0.25 * med) irregular += 1;
      longest = std::max(longest, d);
    }
    timing.set("frames", static_cast<double>(videoPts.size()))
        .set("medianInterval", med)
        .set("irregularShare", iv.empty() ? 0.0 : irregular / iv.size())
        .set("longestInterval", longest);
  }
  Value ev = Value::object();
  ev.set("type", "baseline")
      .set("duration", base.duration)
      .set("segmentDuration", segDur)
      .set("segments", std::move(segs))
      .set("audio", std::move(audioInfo))
      .set("timing", std::move(timing))
      .set("declaredDuration", declared)
      .set("endedWithError", endedWithError || truncation.seen());
  progress.report(1, true);
  emit(std::move(ev));
  return base;
}

Value segmentEvent(size_t index, const Segment& s, const SegmentAccumulator& acc, bool series) {
  Value v = Value::object();
  v.set("type", "segment")
      .set("index", static_cast<int>(index))
      .set("start", s.start)
      .set("end", s.end)
      .set("samples", acc.samples)
      .set("motion", acc.motionSamples > 0 ? acc.motionSum / acc.motionSamples : 0.0)
      .set("motionMax", acc.motionMax)
      .set("cuts", static_cast<int>(acc.cutTimes.size()))
      .set("cutTimes", acc.cutTimes)
      .set("brightness", acc.samples > 0 ? acc.brightnessSum / acc.samples : 0.0);
  {
    // Per sampling interval averages (pixels of the analysis frame, zoom as scale - 1).
    const double n = std::max(1, acc.cameraSamples);
    Value cam = Value::object();
    cam.set("samples", acc.cameraSamples)
        .set("dx", acc.camDx / n)
        .set("dy", acc.camDy / n)
        .set("speed", acc.camSpeed / n)
        .set("zoom", acc.camZoom / n)
        .set("jitter", acc.camJitter / n)
        .set("fade", acc.camFade / n);
    v.set("camera", std::move(cam))
        .set("subject", acc.motionSamples > 0 ? acc.subjectSum / acc.motionSamples : 0.0)
        .set("subjectMax", acc.subjectMax);
  }
  if (series) {
    Value ser = Value::object();
    ser.set("t", acc.t).set("energy", acc.energy).set("cx", acc.cx).set("cy", acc.cy).set("area", acc.area);
    v.set("series", std::move(ser));
  }
  return v;
}

// Pass 2: decode the video, sample gray frames at opt.sampleFps, emit each segment when done.
void analysisPass(const std::string& path, const JobOptions& opt, const Baseline& base, const std::atomic<bool>& cancel,
                  const EventSink& emit) {
  MediaFile file(path, &cancel);
  AVFormatContext* fmt = file.format();
  for (unsigned i = 0; i < fmt->nb_streams; ++i)
    if (static_cast<int>(i) != file.videoIndex()) fmt->streams[i]->discard = AVDISCARD_ALL;
  AVStream* vs = file.videoStream();
  double fps = file.declaredFps();
  const double interval = 1.0 / std::clamp(opt.sampleFps, 0.1, 60.0);

  DecoderOptions dopt;
  dopt.threads = opt.threads;
  dopt.skipNonRef = fps > 0 && fps >= 2.5 * opt.sampleFps;
  dopt.skipLoopFilter = opt.skipLoopFilter;
  VideoDecoder decoder(vs, dopt);

  bool swap = file.rotation() == 90 || file.rotation() == 270;
  int dispW = swap ? vs->codecpar->height : vs->codecpar->width;
  int dispH = swap ? vs->codecpar->width : vs->codecpar->height;
  GrayFrame prev, cur;
  fitSize(dispW, dispH, opt.analysisSize, opt.analysisSize, cur.width, cur.height);
  prev.width = cur.width;
  prev.height = cur.height;
  FrameScaler scaler(AV_PIX_FMT_GRAY8, file.rotation());
  Histogram prevHist{};
  bool havePrev = false;
  double prevT = -1;
  double prevCamDx = NAN, prevCamDy = NAN;
  std::deque<double> recentHist;  // recent histogram distances (non-cut), for the cut threshold

  const std::vector<Segment>& segs = base.segments;
  size_t segIndex = 0;
  SegmentAccumulator acc;
  double nextSample = 0, lastFrameT = -1, lastSampleT = -1;
  long long framesDecoded = 0, samples = 0;
  const double frameStep = fps > 0 ? 1.0 / fps : 0.04;
  ProgressReporter progress(emit, "analyze");

  // Thumbnails and storyboard tiles, from the sampled frames (thumbnails.h).
  const bool thumbnails = !opt.media.thumbnailFile.empty(), storyboard = !opt.media.spriteFile.empty();
  int thumbW = 0, thumbH = 0;
  pictureSize(dispW, dispH, opt.media.thumbnailWidth, thumbW, thumbH);
  FrameScaler thumbScaler(AV_PIX_FMT_RGB24, file.rotation()), tileScaler(AV_PIX_FMT_RGB24, file.rotation());
  ThumbnailPicker picker;
  std::unique_ptr<Storyboard> board;
  if (storyboard) board = std::make_unique<Storyboard>(opt.media, base.duration, dispW, dispH);
  std::vector<uint8_t> tile;

  auto finishSegmentsBefore = [&](double t) {
    while (segIndex < segs.size() && t >= segs[segIndex].end - 1e-9) {
      Value ev = segmentEvent(segIndex, segs[segIndex], acc, opt.series);
      if (thumbnails) {
        std::string error;
        ev.set("thumbnail", picker.write(numberedPath(opt.media.thumbnailFile, static_cast<long long>(segIndex)), error));
        picker.clear();
      }
      emit(std::move(ev));
      acc.clear();
      ++segIndex;
    }
  };

  // Hard cuts are found frame by frame: a cut is a sudden jump in picture (and in the luma
  // histogram) between two consecutive decoded frames, far above the recent frame-to-frame
  // change. A fade or a fast pan spreads change over many frames and is not a cut.
  FrameSignature frameSig, sig;
  bool haveFrameSig = false, cutSinceSample = false;
  int sigW = 0, sigH = 0;
  std::deque<double> recentFrameDist;

  FrameCallback onFrame = [&](AVFrame* frame) {
    ++framesDecoded;
    double t = file.seconds(frame->best_effort_timestamp, vs->time_base);
    if (!std::isfinite(t)) t = lastFrameT < 0 ? 0 : lastFrameT + frameStep;
    if (t < lastFrameT - 1e-6 || t > base.duration + 1) return;  // out of order or corrupt timestamp
    lastFrameT = t;
    if (segIndex >= segs.size()) return;
    finishSegmentsBefore(t);
    if (segIndex >= segs.size()) return;

    const bool frameHistOk = frameSignature(frame, sig);
    if (frameHistOk) {
      if (haveFrameSig && sigW == frame->width && sigH == frame->height) {
        double d = signatureDistance(frameSig, sig);
        double hd = histogramDistance(frameSig.hist, sig.hist);
        std::vector<double> recent(recentFrameDist.begin(), recentFrameDist.end());
        if (d > std::max(20.0, 3 * median(recent)) && hd > 0.2) {
          acc.cutTimes.push_back(t);
          cutSinceSample = true;
        } else {
          recentFrameDist.push_back(d);
          if (recentFrameDist.size() > 12) recentFrameDist.pop_front();
        }
      }
      std::swap(frameSig, sig);
      sigW = frame->width;
      sigH = frame->height;
    }
    haveFrameSig = frameHistOk;

    if (t < nextSample - frameStep * 0.5) return;
    while (nextSample <= t + frameStep * 0.5) nextSample += interval;
    if (!scaler.convert(frame, cur.width, cur.height, cur.pixels)) return;
    ++samples;
    const int sampleInSegment = acc.samples++;
    const double brightness = meanLuma(cur);
    acc.brightnessSum += brightness;
    Histogram hist = lumaHistogram(cur);
    if (thumbnails) {
      picker.addHistogram(hist);
      const Segment& seg = segs[segIndex];
      std::vector<uint8_t> rgb;
      if (picker.wants(sampleInSegment, (seg.end - seg.start) / interval) && thumbScaler.convert(frame, thumbW, thumbH, rgb))
        picker.addCandidate(hist, brightness, cutSinceSample, std::move(rgb), thumbW, thumbH);
    }
    if (board && board->due(t) && tileScaler.convert(frame, board->tileWidth(), board->tileHeight(), tile)) board->add(t, tile);
    double dt = t - prevT;
    if (havePrev && dt > 0 && dt <= interval * 3) {
      FrameDiff d = frameDifference(prev, cur);
      bool cut = cutSinceSample;
      if (!frameHistOk) {
        // Fallback for pixel formats without an 8-bit luma plane: compare samples.
        double hd = histogramDistance(prevHist, hist);
        std::vector<double> recent(recentHist.begin(), recentHist.end());
        if (hd > std::max(0.3, 3 * median(recent)) && d.meanAbs > 10) {
          cut = true;
          acc.cutTimes.push_back(t);
        } else {
          recentHist.push_back(hd);
          if (recentHist.size() > 8) recentHist.pop_front();
        }
      }
      // Motion per sampling interval, so a missing frame doesn't inflate it.
      double motion = d.meanAbs * std::min(1.0, interval / dt);
      if (!cut) {
        acc.motionSum += motion;
        ++acc.motionSamples;
        acc.motionMax = std::max(acc.motionMax, motion);
        GlobalMotion gm = estimateGlobalMotion(prev, cur);
        const double scale = std::min(1.0, interval / dt);
        double subject = gm.residual * scale;
        acc.subjectSum += subject;
        acc.subjectMax = std::max(acc.subjectMax, subject);
        acc.camFade += std::fabs(std::log(gm.gain)) * scale;
        if (gm.valid) {
          double dx = gm.dx * scale, dy = gm.dy * scale;
          ++acc.cameraSamples;
          acc.camDx += dx;
          acc.camDy += dy;
          acc.camSpeed += std::hypot(dx, dy);
          acc.camZoom += gm.zoom * scale;
          // Shake: the camera's velocity changes from one sample to the next.
          if (std::isfinite(prevCamDx)) acc.camJitter += std::hypot(dx - prevCamDx, dy - prevCamDy);
          prevCamDx = dx;
          prevCamDy = dy;
        } else {
          prevCamDx = prevCamDy = NAN;
        }
      } else {
        prevCamDx = prevCamDy = NAN;
      }
      if (opt.series) {
        acc.t.push_back(t);
        acc.energy.push_back(cut ? -1 : motion);
        acc.cx.push_back(cut ? -1 : d.centroidX);
        acc.cy.push_back(cut ? -1 : d.centroidY);
        acc.area.push_back(cut ? -1 : d.movingFraction);
      }
    }
    cutSinceSample = false;
    std::swap(prev, cur);
    prevHist = hist;
    prevT = t;
    lastSampleT = t;
    havePrev = true;
    progress.report(t / base.duration);
  };

  PacketPtr pkt = makePacket();
  int readErrors = 0;
  while (readPacket(file, pkt.get(), readErrors)) {
    PacketRef unref(pkt.get());
    if (pkt->stream_index != file.videoIndex()) continue;
    decoder.decode(pkt.get(), onFrame);
    if (segIndex >= segs.size()) break;
  }
  file.throwIfCancelled();
  decoder.decode(nullptr, onFrame);
  file.throwIfCancelled();
  if (samples == 0) throw MediaError(ErrorCode::DecodeError, "no video frame could be decoded");
  finishSegmentsBefore(INFINITY);
  progress.report(1, true);
  Value done = Value::object();
  done.set("type", "done")
      .set("framesDecoded", static_cast<double>(framesDecoded))
      .set("samples", static_cast<double>(samples))
      .set("decodeErrors", decoder.errors())
      .set("analyzedDuration", lastSampleT)
      .set("decodedUntil", lastFrameT < 0 ? 0.0 : std::min(base.duration, lastFrameT + frameStep));
  if (board) done.set("storyboard", board->finish());
  emit(std::move(done));
}

}  // namespace

void runJob(const std::string& path, const JobOptions& options, const std::atomic<bool>& cancel, const EventSink& emit) {
  Baseline base = baselinePass(path, options, cancel, emit);
  if (base.segments.empty()) throw MediaError(ErrorCode::DecodeError, "the video has no measurable duration");
  analysisPass(path, options, base, cancel, emit);
}

}  // namespace engine
