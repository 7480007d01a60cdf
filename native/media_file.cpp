#include "media_file.h"

#include <cmath>

extern "C" {
#include <libavutil/display.h>
}

#include "decoder.h"

namespace engine {

double sanitizeFps(AVRational r) {
  if (r.num <= 0 || r.den <= 0) return 0;
  double fps = av_q2d(r);
  if (!std::isfinite(fps) || fps < 0.5 || fps > 1000) return 0;
  return fps;
}

static int displayRotation(AVStream* st) {
  size_t size = 0;
  const uint8_t* data = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
  if (!data || size < 9 * sizeof(int32_t)) return 0;
  double theta = -av_display_rotation_get(reinterpret_cast<const int32_t*>(data));
  if (!std::isfinite(theta)) return 0;
  int deg = static_cast<int>(std::lround(theta / 90.0)) * 90;
  deg %= 360;
  if (deg < 0) deg += 360;
  return deg;
}

int MediaFile::interruptCallback(void* opaque) {
  auto* flag = static_cast<const std::atomic<bool>*>(opaque);
  return flag && flag->load(std::memory_order_relaxed) ? 1 : 0;
}

MediaFile::MediaFile(const std::string& path, const std::atomic<bool>* cancel) : cancel_(cancel) {
  AVFormatContext* raw = avformat_alloc_context();
  if (!raw) throw MediaError(ErrorCode::Internal, "out of memory opening the file");
  raw->interrupt_callback.callback = &MediaFile::interruptCallback;
  raw->interrupt_callback.opaque = const_cast<std::atomic<bool>*>(cancel);
  int err = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);  // frees raw on failure
  if (err < 0) {
    throwIfCancelled();
    if (err == AVERROR(ENOENT)) throw MediaError(ErrorCode::UnsupportedMedia, "file not found");
    throw MediaError(ErrorCode::UnsupportedMedia,
                     "cannot open the file as a media container (" + avErrorText(err) + ")");
  }
  fmt_.reset(raw);
  // Single-picture formats (png_pipe, jpeg_pipe, image2, ...) open as a one-frame video.
  const std::string demuxer = raw->iformat && raw->iformat->name ? raw->iformat->name : "";
  if (demuxer == "image2" || demuxer.find("_pipe") != std::string::npos) {
    throw MediaError(ErrorCode::UnsupportedMedia, "the file is a still image, not a video");
  }
  err = avformat_find_stream_info(raw, nullptr);
  throwIfCancelled();
  if (err < 0) {
    throw MediaError(ErrorCode::UnsupportedMedia,
                     "cannot read the media streams (" + avErrorText(err) + ")");
  }

  long long bestPixels = -1;
  bool sawVideo = false;
  for (unsigned i = 0; i < raw->nb_streams; ++i) {
    AVStream* st = raw->streams[i];
    AVCodecParameters* par = st->codecpar;
    if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
      if (st->disposition & AV_DISPOSITION_ATTACHED_PIC) continue;  // cover art
      sawVideo = true;
      if (!avcodec_find_decoder(par->codec_id)) continue;
      long long pixels = static_cast<long long>(par->width) * par->height;
      if (pixels > bestPixels) {
        bestPixels = pixels;
        videoIndex_ = static_cast<int>(i);
      }
    } else if (par->codec_type == AVMEDIA_TYPE_AUDIO && audioIndex_ < 0) {
      if (avcodec_find_decoder(par->codec_id) && par->ch_layout.nb_channels > 0) audioIndex_ = static_cast<int>(i);
    }
  }
  if (videoIndex_ < 0) {
    if (sawVideo) throw MediaError(ErrorCode::UnsupportedMedia, "the video stream uses a codec that cannot be decoded");
    if (audioIndex_ >= 0) throw MediaError(ErrorCode::UnsupportedMedia, "the file has no video stream (audio only)");
    throw MediaError(ErrorCode::UnsupportedMedia, "the file has no video stream");
  }
  AVCodecParameters* par = videoStream()->codecpar;
  if (par->width <= 0 || par->height <= 0 || par->width > kMaxDimension || par->height > kMaxDimension ||
      static_cast<long long>(par->width) * par->height > kMaxPixels) {
    throw MediaError(ErrorCode::UnsupportedMedia, "the video has invalid dimensions (" + std::to_string(par->width) +
                                                      "x" + std::to_string(par->height) + ")");
  }
  rotation_ = displayRotation(videoStream());
  AVStream* vs = videoStream();
  if (vs->start_time != AV_NOPTS_VALUE) {
    double s = vs->start_time * av_q2d(vs->time_base);
    if (std::isfinite(s) && std::fabs(s) < 1e6) startTime_ = s;
  } else if (raw->start_time != AV_NOPTS_VALUE) {
    double s = raw->start_time / static_cast<double>(AV_TIME_BASE);
    if (std::isfinite(s) && std::fabs(s) < 1e6) startTime_ = s;
  }
}

void MediaFile::throwIfCancelled() const {
  if (cancelled()) throw MediaError(ErrorCode::Cancelled, "analysis cancelled");
}

double MediaFile::declaredDuration() const {
  double d = 0;
  if (fmt_->duration != AV_NOPTS_VALUE && fmt_->duration > 0) d = fmt_->duration / static_cast<double>(AV_TIME_BASE);
  if (!(d > 0)) {
    AVStream* vs = videoStream();
    if (vs->duration != AV_NOPTS_VALUE && vs->duration > 0) d = vs->duration * av_q2d(vs->time_base);
  }
  if (!std::isfinite(d) || d <= 0 || d > 30 * 24 * 3600.0) return 0;
  return d;
}

double MediaFile::declaredFps() const {
  AVStream* vs = videoStream();
  double fps = sanitizeFps(vs->avg_frame_rate);
  if (fps == 0) fps = sanitizeFps(vs->r_frame_rate);
  return fps;
}

double MediaFile::seconds(int64_t ts, AVRational tb) const {
  if (ts == AV_NOPTS_VALUE || tb.den == 0) return NAN;
  double s = ts * av_q2d(tb) - startTime_;
  return std::isfinite(s) ? s : NAN;
}

ProbeInfo probeFile(const std::string& path, const std::atomic<bool>* cancel) {
  MediaFile file(path, cancel);
  ProbeInfo info;
  AVStream* vs = file.videoStream();
  info.rotation = file.rotation();
  bool swap = info.rotation == 90 || info.rotation == 270;
  info.width = swap ? vs->codecpar->height : vs->codecpar->width;
  info.height = swap ? vs->codecpar->width : vs->codecpar->height;
  info.videoCodec = avcodec_get_name(vs->codecpar->codec_id);
  if (AVStream* as = file.audioStream()) {
    info.hasAudio = true;
    info.audioCodec = avcodec_get_name(as->codecpar->codec_id);
  }
  info.duration = file.declaredDuration();
  info.fps = file.declaredFps();

  // A video only counts when a frame decodes; while at it, measure what the container omits.
  VideoDecoder decoder(vs, DecoderOptions{});
  AVFormatContext* fmt = file.format();
  PacketPtr pkt = makePacket();
  FramePtr frame = makeFrame();
  bool decoded = false;
  int videoPackets = 0;
  double firstPts = NAN, lastPts = NAN, lastEnd = 0;
  bool needScan = info.duration <= 0 || info.fps <= 0;
  int readErrors = 0;
  while (true) {
    file.throwIfCancelled();
    if (decoded && !needScan) break;
    if (!decoded && videoPackets > 600) break;
    int err = av_read_frame(fmt, pkt.get());
    if (err == AVERROR(EAGAIN)) continue;
    if (err < 0) {
      if (err != AVERROR_EOF && ++readErrors < 3 && !file.cancelled()) continue;
      break;
    }
    PacketRef unref(pkt.get());
    if (pkt->stream_index != file.videoIndex()) continue;
    ++videoPackets;
    double t = file.seconds(pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts, vs->time_base);
    if (std::isfinite(t)) {
      if (!std::isfinite(firstPts) || t < firstPts) firstPts = t;
      if (!std::isfinite(lastPts) || t > lastPts) lastPts = t;
      double d = pkt->duration > 0 ? pkt->duration * av_q2d(vs->time_base) : 0;
      if (t + d > lastEnd) lastEnd = t + d;
    }
    if (!decoded) {
      decoder.send(pkt.get());
      while (decoder.receive(frame.get())) {
        decoded = true;
        av_frame_unref(frame.get());
      }
    }
  }
  file.throwIfCancelled();
  if (!decoded) {
    decoder.flush();
    while (decoder.receive(frame.get())) {
      decoded = true;
      av_frame_unref(frame.get());
    }
  }
  if (!decoded) throw MediaError(ErrorCode::UnsupportedMedia, "no video frame could be decoded from the file");
  if (info.fps <= 0 && videoPackets > 1 && std::isfinite(firstPts) && lastPts > firstPts) {
    double fps = (videoPackets - 1) / (lastPts - firstPts);
    if (fps >= 0.5 && fps <= 1000) info.fps = fps;
  }
  if (info.fps <= 0) info.fps = 25;  // nothing usable in the file: assume a common rate
  if (info.duration <= 0) {
    double end = lastEnd > 0 ? lastEnd : (std::isfinite(lastPts) ? lastPts + 1.0 / info.fps : 0);
    info.duration = end > 0 ? end : videoPackets / info.fps;
  }
  return info;
}

}  // namespace engine
