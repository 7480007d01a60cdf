#include "decoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "media_file.h"

namespace engine {

static CodecContextPtr openCodec(AVStream* stream, int threads, const char* what) {
  const AVCodec* codec = avcodec_find_decoder(stream->codecpar->codec_id);
  if (!codec) throw MediaError(ErrorCode::UnsupportedMedia, std::string("no decoder for the ") + what + " codec");
  CodecContextPtr ctx(avcodec_alloc_context3(codec));
  if (!ctx) throw MediaError(ErrorCode::Internal, "out of memory allocating a decoder");
  int err = avcodec_parameters_to_context(ctx.get(), stream->codecpar);
  if (err < 0) throw MediaError(ErrorCode::UnsupportedMedia, std::string("bad ") + what + " codec parameters (" + avErrorText(err) + ")");
  ctx->pkt_timebase = stream->time_base;
  ctx->thread_count = std::max(1, threads);
  ctx->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  err = avcodec_open2(ctx.get(), codec, nullptr);
  if (err < 0) {
    throw MediaError(ErrorCode::UnsupportedMedia, std::string("cannot open the ") + avcodec_get_name(stream->codecpar->codec_id) +
                                                      " " + what + " decoder (" + avErrorText(err) + ")");
  }
  return ctx;
}

VideoDecoder::VideoDecoder(AVStream* stream, const DecoderOptions& options) {
  // FFmpeg's frame threads take packets in turn, one each, and every call waits for the oldest
  // one to finish, so a skipped non-reference frame still holds a slot of the pipeline. With
  // one frame thread per core, the reference frames of an H.264 stream with B-frames (every
  // second or third packet) seldom overlap, and two cores did the work of 1.2; three frame
  // threads per core keep two reference frames in flight (bench/engine.ts: cores used).
  int threads = options.skipNonRef && options.threads > 1 ? options.threads * 3 : options.threads;
  ctx_ = openCodec(stream, threads, "video");
  if (options.skipNonRef) ctx_->skip_frame = AVDISCARD_NONREF;
  if (options.skipLoopFilter) ctx_->skip_loop_filter = AVDISCARD_ALL;
}

void VideoDecoder::send(const AVPacket* pkt) {
  int err = avcodec_send_packet(ctx_.get(), pkt);
  if (err < 0 && err != AVERROR_EOF && err != AVERROR(EAGAIN)) ++errors_;
}

bool VideoDecoder::receive(AVFrame* frame) {
  int err = avcodec_receive_frame(ctx_.get(), frame);
  if (err >= 0) return true;
  if (err != AVERROR(EAGAIN) && err != AVERROR_EOF) ++errors_;
  return false;
}

void VideoDecoder::drain(const FrameCallback& onFrame) {
  FramePtr frame = makeFrame();
  while (true) {
    int err = avcodec_receive_frame(ctx_.get(), frame.get());
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
    if (err < 0) {
      ++errors_;
      return;
    }
    onFrame(frame.get());
    av_frame_unref(frame.get());
  }
}

void VideoDecoder::decode(const AVPacket* pkt, const FrameCallback& onFrame) {
  int err = avcodec_send_packet(ctx_.get(), pkt);
  for (int tries = 0; err == AVERROR(EAGAIN) && tries < 8; ++tries) {
    drain(onFrame);
    err = avcodec_send_packet(ctx_.get(), pkt);
  }
  if (err < 0 && err != AVERROR_EOF && err != AVERROR(EAGAIN)) ++errors_;
  drain(onFrame);
}

void fitSize(int w, int h, int maxW, int maxH, int& outW, int& outH) {
  double scale = 1.0;
  if (maxW > 0) scale = std::min(scale, static_cast<double>(maxW) / w);
  if (maxH > 0) scale = std::min(scale, static_cast<double>(maxH) / h);
  outW = std::max(1, static_cast<int>(std::lround(w * scale)));
  outH = std::max(1, static_cast<int>(std::lround(h * scale)));
}

static void rotateInto(const uint8_t* src, int w, int h, int ch, int rotation, uint8_t* dst) {
  // src is w x h; dst is h x w for 90/270, w x h for 180. Clockwise rotation.
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      int dx, dy, dw;
      if (rotation == 90) { dx = h - 1 - y; dy = x; dw = h; }
      else if (rotation == 270) { dx = y; dy = w - 1 - x; dw = h; }
      else { dx = w - 1 - x; dy = h - 1 - y; dw = w; }
      std::memcpy(dst + (static_cast<size_t>(dy) * dw + dx) * ch, src + (static_cast<size_t>(y) * w + x) * ch, ch);
    }
  }
}

bool FrameScaler::convert(const AVFrame* src, int dstW, int dstH, std::vector<uint8_t>& out) {
  if (src->width <= 0 || src->height <= 0 || src->width > kMaxDimension || src->height > kMaxDimension) return false;
  if (src->format < 0 || !sws_isSupportedInput(static_cast<AVPixelFormat>(src->format))) return false;
  bool swap = rotation_ == 90 || rotation_ == 270;
  int sw = swap ? dstH : dstW, sh = swap ? dstW : dstH;  // size before rotation
  sws_ = sws_getCachedContext(sws_, src->width, src->height, static_cast<AVPixelFormat>(src->format), sw, sh, dst_,
                              SWS_AREA, nullptr, nullptr, nullptr);
  if (swsOwner_.get() != sws_) {
    swsOwner_.release();  // sws_getCachedContext already freed the old one
    swsOwner_.reset(sws_);
  }
  if (!sws_) return false;
  const int ch = channels();
  const size_t bytes = static_cast<size_t>(sw) * sh * ch;
  std::vector<uint8_t>& target = rotation_ == 0 ? out : scratch_;
  target.resize(bytes);
  uint8_t* dstData[4] = {target.data(), nullptr, nullptr, nullptr};
  int dstStride[4] = {sw * ch, 0, 0, 0};
  int rows = sws_scale(sws_, src->data, src->linesize, 0, src->height, dstData, dstStride);
  if (rows <= 0) return false;
  if (rotation_ != 0) {
    out.resize(bytes);
    rotateInto(scratch_.data(), sw, sh, ch, rotation_, out.data());
  }
  return true;
}

AudioDecoder::AudioDecoder(AVStream* stream, double startTime) : stream_(stream), startTime_(startTime) {
  ctx_ = openCodec(stream, 1, "audio");
  frame_ = makeFrame();
}

AudioDecoder::~AudioDecoder() { av_channel_layout_uninit(&swrInLayout_); }

void AudioDecoder::decode(const AVPacket* pkt, const SampleCallback& onSamples) {
  int err = avcodec_send_packet(ctx_.get(), pkt);
  if (err < 0 && err != AVERROR_EOF && err != AVERROR(EAGAIN)) ++errors_;
  while (true) {
    err = avcodec_receive_frame(ctx_.get(), frame_.get());
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
    if (err < 0) {
      ++errors_;
      return;
    }
    convert(frame_.get(), onSamples);
    av_frame_unref(frame_.get());
  }
}

void AudioDecoder::convert(AVFrame* frame, const SampleCallback& onSamples) {
  if (frame->nb_samples <= 0 || frame->sample_rate <= 0 || frame->sample_rate > 768000 ||
      frame->ch_layout.nb_channels <= 0 || frame->format < 0) {
    ++errors_;
    return;
  }
  bool changed = !swr_ || frame->sample_rate != swrInRate_ || frame->format != swrInFormat_ ||
                 av_channel_layout_compare(&frame->ch_layout, &swrInLayout_) != 0;
  if (changed) {
    SwrContext* raw = nullptr;
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    int err = swr_alloc_set_opts2(&raw, &mono, AV_SAMPLE_FMT_FLT, frame->sample_rate, &frame->ch_layout,
                                  static_cast<AVSampleFormat>(frame->format), frame->sample_rate, 0, nullptr);
    SwrPtr next(raw);
    if (err < 0 || !next || swr_init(next.get()) < 0) {
      ++errors_;
      return;
    }
    swr_ = std::move(next);
    av_channel_layout_uninit(&swrInLayout_);
    if (av_channel_layout_copy(&swrInLayout_, &frame->ch_layout) < 0) {
      swr_.reset();
      ++errors_;
      return;
    }
    swrInRate_ = frame->sample_rate;
    swrInFormat_ = frame->format;
    rate_ = frame->sample_rate;
  }
  int64_t pts = frame->best_effort_timestamp;
  double t = NAN;
  if (pts != AV_NOPTS_VALUE) t = pts * av_q2d(stream_->time_base) - startTime_;
  // Audio is continuous: trust our own running clock unless the stream jumps noticeably.
  if (nextTime_ >= 0 && (!std::isfinite(t) || std::fabs(t - nextTime_) < 0.2)) t = nextTime_;
  if (!std::isfinite(t)) t = std::max(0.0, nextTime_);
  int outCap = swr_get_out_samples(swr_.get(), frame->nb_samples);
  if (outCap <= 0) return;
  buf_.resize(static_cast<size_t>(outCap));
  uint8_t* outData[1] = {reinterpret_cast<uint8_t*>(buf_.data())};
  int n = swr_convert(swr_.get(), outData, outCap, const_cast<const uint8_t**>(frame->extended_data), frame->nb_samples);
  if (n < 0) {
    ++errors_;
    return;
  }
  if (n > 0) onSamples(buf_.data(), n, t);
  nextTime_ = t + static_cast<double>(n) / rate_;
}

}  // namespace engine
