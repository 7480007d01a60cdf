#include "clips.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

extern "C" {
#include <libavutil/audio_fifo.h>
#include <libavutil/opt.h>
}

#include "decoder.h"
#include "media_file.h"

namespace engine {

namespace {

struct OutputDeleter {
  void operator()(AVFormatContext* oc) const {
    if (oc->pb && !(oc->oformat->flags & AVFMT_NOFILE)) avio_closep(&oc->pb);
    avformat_free_context(oc);
  }
};
using OutputPtr = std::unique_ptr<AVFormatContext, OutputDeleter>;

struct FifoDeleter {
  void operator()(AVAudioFifo* f) const { av_audio_fifo_free(f); }
};

void check(int err, const char* what) {
  if (err < 0) throw MediaError(ErrorCode::Internal, std::string(what) + " (" + avErrorText(err) + ")");
}

const AVRational kVideoTimeBase{1, 90000};

// Sends an encoder's packets to the muxer.
void writePackets(AVCodecContext* enc, AVFormatContext* oc, AVStream* st, AVPacket* pkt, int64_t duration) {
  while (true) {
    int err = avcodec_receive_packet(enc, pkt);
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
    check(err, "the encoder failed");
    if (duration > 0) pkt->duration = duration;
    av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
    pkt->stream_index = st->index;
    check(av_interleaved_write_frame(oc, pkt), "cannot write the clip");
  }
}

// Audio of the spans: decoded, trimmed to each span, laid end to end (silence fills a gap),
// re-encoded to AAC.
class AudioTrack {
 public:
  AudioTrack(AVStream* in, AVFormatContext* oc, double startTime) : in_(in), startTime_(startTime) {
    const AVCodec* dcodec = avcodec_find_decoder(in->codecpar->codec_id);
    if (!dcodec) throw MediaError(ErrorCode::UnsupportedMedia, "no decoder for the audio codec");
    dec_.reset(avcodec_alloc_context3(dcodec));
    if (!dec_) throw MediaError(ErrorCode::Internal, "out of memory");
    check(avcodec_parameters_to_context(dec_.get(), in->codecpar), "bad audio codec parameters");
    dec_->pkt_timebase = in->time_base;
    check(avcodec_open2(dec_.get(), dcodec, nullptr), "cannot open the audio decoder");

    const AVCodec* ecodec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!ecodec) throw MediaError(ErrorCode::Internal, "no AAC encoder");
    enc_.reset(avcodec_alloc_context3(ecodec));
    if (!enc_) throw MediaError(ErrorCode::Internal, "out of memory");
    static const int kRates[] = {96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000};
    int rate = 48000;
    for (int r : kRates)
      if (r == dec_->sample_rate) rate = r;
    enc_->sample_rate = rate;
    enc_->sample_fmt = AV_SAMPLE_FMT_FLTP;
    av_channel_layout_default(&enc_->ch_layout, in->codecpar->ch_layout.nb_channels >= 2 ? 2 : 1);
    enc_->bit_rate = 128000;
    enc_->time_base = AVRational{1, rate};
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) enc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    check(avcodec_open2(enc_.get(), ecodec, nullptr), "cannot open the AAC encoder");
    st_ = avformat_new_stream(oc, nullptr);
    if (!st_) throw MediaError(ErrorCode::Internal, "out of memory");
    check(avcodec_parameters_from_context(st_->codecpar, enc_.get()), "bad AAC parameters");
    st_->time_base = enc_->time_base;
    fifo_.reset(av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, enc_->ch_layout.nb_channels, 4096));
    if (!fifo_) throw MediaError(ErrorCode::Internal, "out of memory");
    frame_ = makeFrame();
    pkt_ = makePacket();
  }

  ~AudioTrack() { av_channel_layout_uninit(&swrLayout_); }

  int index() const { return in_->index; }

  // The next span: samples from [start, end) of the source go at `offset` seconds of the output.
  void beginSpan(double start, double end, double offset, AVFormatContext* oc) {
    start_ = start;
    end_ = end;
    done_ = false;
    avcodec_flush_buffers(dec_.get());
    if (swr_) swr_init(swr_.get());  // drop what the resampler still holds from the last span
    alignTo(llround(offset * enc_->sample_rate), oc);
  }

  bool spanDone() const { return done_; }

  void decode(const AVPacket* pkt, AVFormatContext* oc) {
    if (avcodec_send_packet(dec_.get(), pkt) < 0) return;  // a broken packet: skip it
    while (avcodec_receive_frame(dec_.get(), frame_.get()) >= 0) {
      take(frame_.get(), oc);
      av_frame_unref(frame_.get());
    }
  }

  // Ends the track at `duration` seconds (padded with silence or cut) and flushes the encoder.
  void finish(double duration, AVFormatContext* oc) {
    int64_t target = llround(duration * enc_->sample_rate);
    alignTo(target, oc);
    encodeFifo(oc, true);
    check(avcodec_send_frame(enc_.get(), nullptr), "the AAC encoder failed");
    writePackets(enc_.get(), oc, st_, pkt_.get(), 0);
  }

 private:
  // Pads with silence or drops queued samples so the next sample lands at `position`.
  void alignTo(int64_t position, AVFormatContext* oc) {
    int64_t have = queued_ + av_audio_fifo_size(fifo_.get());
    if (have < position) {
      pushSilence(static_cast<int>(std::min<int64_t>(position - have, 10LL * enc_->sample_rate)));
    } else if (have > position) {
      int drop = static_cast<int>(std::min<int64_t>(have - position, av_audio_fifo_size(fifo_.get())));
      av_audio_fifo_drain(fifo_.get(), drop);
    }
    encodeFifo(oc, false);
  }

  void pushSilence(int n) {
    if (n <= 0) return;
    std::vector<float> zeros(static_cast<size_t>(n), 0.0f);
    std::vector<void*> planes(enc_->ch_layout.nb_channels, zeros.data());
    av_audio_fifo_write(fifo_.get(), planes.data(), n);
  }

  void take(AVFrame* f, AVFormatContext* oc) {
    if (f->nb_samples <= 0 || f->sample_rate <= 0 || f->ch_layout.nb_channels <= 0) return;
    double t = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp * av_q2d(in_->time_base) - startTime_ : NAN;
    if (!std::isfinite(t)) return;
    double frameEnd = t + static_cast<double>(f->nb_samples) / f->sample_rate;
    if (t >= end_) {
      done_ = true;
      return;
    }
    if (frameEnd <= start_) return;
    if (!swr_ || f->sample_rate != swrRate_ || f->format != swrFormat_ || av_channel_layout_compare(&f->ch_layout, &swrLayout_) != 0) {
      SwrContext* raw = nullptr;
      int err = swr_alloc_set_opts2(&raw, &enc_->ch_layout, enc_->sample_fmt, enc_->sample_rate, &f->ch_layout,
                                    static_cast<AVSampleFormat>(f->format), f->sample_rate, 0, nullptr);
      SwrPtr next(raw);
      if (err < 0 || !next || swr_init(next.get()) < 0) return;
      swr_ = std::move(next);
      av_channel_layout_uninit(&swrLayout_);
      av_channel_layout_copy(&swrLayout_, &f->ch_layout);
      swrRate_ = f->sample_rate;
      swrFormat_ = f->format;
    }
    int cap = swr_get_out_samples(swr_.get(), f->nb_samples);
    if (cap <= 0) return;
    const int ch = enc_->ch_layout.nb_channels;
    std::vector<std::vector<float>> buf(ch, std::vector<float>(static_cast<size_t>(cap)));
    std::vector<uint8_t*> out(ch);
    for (int c = 0; c < ch; ++c) out[c] = reinterpret_cast<uint8_t*>(buf[c].data());
    int n = swr_convert(swr_.get(), out.data(), cap, const_cast<const uint8_t**>(f->extended_data), f->nb_samples);
    if (n <= 0) return;
    const double rate = enc_->sample_rate;
    int from = std::clamp(static_cast<int>(std::lround((start_ - t) * rate)), 0, n);
    int to = std::clamp(static_cast<int>(std::lround((end_ - t) * rate)), 0, n);
    if (to <= from) return;
    std::vector<void*> planes(ch);
    for (int c = 0; c < ch; ++c) planes[c] = buf[c].data() + from;
    av_audio_fifo_write(fifo_.get(), planes.data(), to - from);
    encodeFifo(oc, false);
  }

  void encodeFifo(AVFormatContext* oc, bool all) {
    const int size = enc_->frame_size > 0 ? enc_->frame_size : 1024;
    while (av_audio_fifo_size(fifo_.get()) >= size || (all && av_audio_fifo_size(fifo_.get()) > 0)) {
      int n = std::min(size, av_audio_fifo_size(fifo_.get()));
      FramePtr f = makeFrame();
      f->nb_samples = n;
      f->format = enc_->sample_fmt;
      f->sample_rate = enc_->sample_rate;
      check(av_channel_layout_copy(&f->ch_layout, &enc_->ch_layout), "bad channel layout");
      check(av_frame_get_buffer(f.get(), 0), "out of memory");
      av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(f->data), n);
      f->pts = queued_;
      queued_ += n;
      check(avcodec_send_frame(enc_.get(), f.get()), "the AAC encoder failed");
      writePackets(enc_.get(), oc, st_, pkt_.get(), 0);
    }
  }

  AVStream* in_;
  double startTime_;
  CodecContextPtr dec_, enc_;
  AVStream* st_ = nullptr;
  std::unique_ptr<AVAudioFifo, FifoDeleter> fifo_;
  SwrPtr swr_;
  AVChannelLayout swrLayout_{};
  int swrRate_ = 0, swrFormat_ = -1;
  FramePtr frame_;
  PacketPtr pkt_;
  int64_t queued_ = 0;  // samples sent to the encoder
  double start_ = 0, end_ = 0;
  bool done_ = false;
};

// Re-encodes decoded frames with libx264 (yuv420p, even dimensions, no B-frames: plain timestamps).
class VideoTrack {
 public:
  VideoTrack(AVStream* in, AVFormatContext* oc, double fps) {
    const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_H264);
    if (!codec) throw MediaError(ErrorCode::Internal, "no H.264 encoder is available");
    enc_.reset(avcodec_alloc_context3(codec));
    if (!enc_) throw MediaError(ErrorCode::Internal, "out of memory");
    enc_->width = std::max(2, in->codecpar->width & ~1);
    enc_->height = std::max(2, in->codecpar->height & ~1);
    enc_->pix_fmt = AV_PIX_FMT_YUV420P;
    enc_->time_base = kVideoTimeBase;
    enc_->framerate = av_d2q(fps, 100000);
    enc_->sample_aspect_ratio = in->codecpar->sample_aspect_ratio;
    enc_->gop_size = std::max(1, static_cast<int>(std::lround(fps * 2)));
    enc_->max_b_frames = 0;
    enc_->thread_count = 2;
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) enc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary* opts = nullptr;
    av_dict_set(&opts, "preset", "veryfast", 0);
    av_dict_set(&opts, "crf", "21", 0);
    int err = avcodec_open2(enc_.get(), codec, &opts);
    av_dict_free(&opts);
    check(err, "cannot open the H.264 encoder");
    st_ = avformat_new_stream(oc, nullptr);
    if (!st_) throw MediaError(ErrorCode::Internal, "out of memory");
    check(avcodec_parameters_from_context(st_->codecpar, enc_.get()), "bad H.264 parameters");
    st_->time_base = kVideoTimeBase;
    frameTicks_ = std::max<int64_t>(1, llround(1.0 / fps / av_q2d(kVideoTimeBase)));
    pkt_ = makePacket();
    frame_ = makeFrame();
    frame_->format = enc_->pix_fmt;
    frame_->width = enc_->width;
    frame_->height = enc_->height;
    check(av_frame_get_buffer(frame_.get(), 0), "out of memory");
  }

  AVStream* stream() const { return st_; }

  // Encodes a decoded frame at `t` seconds of the output.
  void add(const AVFrame* src, double t, AVFormatContext* oc) {
    if (src->width <= 0 || src->height <= 0 || src->format < 0) return;
    int64_t pts = llround(t / av_q2d(kVideoTimeBase));
    // A frame on top of the previous one (duplicated timestamps, as MediaRecorder files have) is
    // dropped: players and muxers downstream expect distinct frame times.
    if (lastPts_ >= 0 && pts < lastPts_ + frameTicks_ / 2) return;
    FramePtr direct;
    if (src->format == enc_->pix_fmt && src->width == enc_->width && src->height == enc_->height) {
      direct.reset(av_frame_clone(src));  // already what the encoder takes: no conversion
      if (!direct) throw MediaError(ErrorCode::Internal, "out of memory");
      direct->pict_type = AV_PICTURE_TYPE_NONE;
    } else {
      sws_ = sws_getCachedContext(sws_, src->width, src->height, static_cast<AVPixelFormat>(src->format), enc_->width,
                                  enc_->height, enc_->pix_fmt, SWS_BICUBIC, nullptr, nullptr, nullptr);
      if (swsOwner_.get() != sws_) {
        swsOwner_.release();
        swsOwner_.reset(sws_);
      }
      if (!sws_) return;
      check(av_frame_make_writable(frame_.get()), "out of memory");
      sws_scale(sws_, src->data, src->linesize, 0, src->height, frame_->data, frame_->linesize);
    }
    AVFrame* f = direct ? direct.get() : frame_.get();
    lastPts_ = pts;
    f->pts = pts;
    check(avcodec_send_frame(enc_.get(), f), "the H.264 encoder failed");
    writePackets(enc_.get(), oc, st_, pkt_.get(), frameTicks_);
    ++frames_;
  }

  void finish(AVFormatContext* oc) {
    check(avcodec_send_frame(enc_.get(), nullptr), "the H.264 encoder failed");
    writePackets(enc_.get(), oc, st_, pkt_.get(), frameTicks_);
  }

  int frames() const { return frames_; }
  double end() const { return frames_ ? (lastPts_ + frameTicks_) * av_q2d(kVideoTimeBase) : 0; }

 private:
  CodecContextPtr enc_;
  AVStream* st_ = nullptr;
  PacketPtr pkt_;
  FramePtr frame_;
  SwsContext* sws_ = nullptr;
  SwsPtr swsOwner_;
  int64_t lastPts_ = -1, frameTicks_ = 1;
  int frames_ = 0;
};

// Seeks the video stream to the keyframe at or before t, or to the beginning when the file can't.
void seekBefore(MediaFile& file, double t) {
  AVStream* vs = file.videoStream();
  int64_t ts = llround((std::max(0.0, t) + file.startTime()) / av_q2d(vs->time_base));
  if (vs->start_time != AV_NOPTS_VALUE) ts = std::max(ts, vs->start_time);
  if (av_seek_frame(file.format(), file.videoIndex(), ts, AVSEEK_FLAG_BACKWARD) >= 0) return;
  if (av_seek_frame(file.format(), -1, 0, AVSEEK_FLAG_BACKWARD | AVSEEK_FLAG_BYTE) >= 0) return;
  throw MediaError(ErrorCode::DecodeError, "the video cannot be read from the start of the span");
}

bool readPacket(MediaFile& file, AVPacket* pkt) {
  for (int errors = 0;;) {
    file.throwIfCancelled();
    int err = av_read_frame(file.format(), pkt);
    if (err >= 0) return true;
    if (err == AVERROR_EOF) return false;
    if (err == AVERROR(EAGAIN)) continue;
    AVIOContext* pb = file.format()->pb;
    if (++errors > 20 || (pb && avio_feof(pb))) return false;
  }
}

double packetTime(const MediaFile& file, const AVPacket* pkt) {
  return file.seconds(pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts, file.format()->streams[pkt->stream_index]->time_base);
}

// Whether the single span can be stream-copied: a keyframe within half a frame of its start, and
// packets that can be cut at its end (no reordering, or the span runs to the end).
bool canCopy(MediaFile& file, const CutSpan& span, double halfFrame, double duration, AVFormatContext* oc) {
  AVStream* vs = file.videoStream();
  if (avformat_query_codec(oc->oformat, vs->codecpar->codec_id, FF_COMPLIANCE_NORMAL) != 1) return false;
  if (vs->codecpar->video_delay > 0 && span.end < duration - halfFrame) return false;
  seekBefore(file, span.start + halfFrame * 0.5);
  PacketPtr pkt = makePacket();
  while (readPacket(file, pkt.get())) {
    PacketRef unref(pkt.get());
    if (pkt->stream_index != file.videoIndex()) continue;
    double t = packetTime(file, pkt.get());
    return (pkt->flags & AV_PKT_FLAG_KEY) && std::isfinite(t) && std::fabs(t - span.start) <= halfFrame;
  }
  return false;
}

}  // namespace

CutResult cutSpans(const std::string& input, const std::string& output, const std::vector<CutSpan>& spans,
                   const std::atomic<bool>& cancel, bool allowCopy) {
  MediaFile file(input, &cancel);
  AVFormatContext* fmt = file.format();
  AVStream* vs = file.videoStream();
  const double fps = file.declaredFps() > 0 ? file.declaredFps() : 25;
  const double halfFrame = 0.5 / fps;
  const double duration = file.declaredDuration();
  if (spans.empty()) throw MediaError(ErrorCode::UnsupportedMedia, "no span to cut");
  for (const CutSpan& s : spans) {
    if (!std::isfinite(s.start) || !std::isfinite(s.end) || s.start < 0 || s.end - s.start < 1.0 / fps)
      throw MediaError(ErrorCode::UnsupportedMedia, "a span is empty or out of range");
  }
  for (unsigned i = 0; i < fmt->nb_streams; ++i)
    if (static_cast<int>(i) != file.videoIndex() && static_cast<int>(i) != file.audioIndex()) fmt->streams[i]->discard = AVDISCARD_ALL;

  AVFormatContext* rawOut = nullptr;
  check(avformat_alloc_output_context2(&rawOut, nullptr, "mp4", output.c_str()), "cannot create the MP4 muxer");
  OutputPtr oc(rawOut);
  const bool copy = allowCopy && spans.size() == 1 && canCopy(file, spans[0], halfFrame, duration, oc.get());

  std::unique_ptr<VideoTrack> encoder;
  AVStream* ost = nullptr;
  if (copy) {
    ost = avformat_new_stream(oc.get(), nullptr);
    if (!ost) throw MediaError(ErrorCode::Internal, "out of memory");
    check(avcodec_parameters_copy(ost->codecpar, vs->codecpar), "cannot copy the video parameters");
    ost->codecpar->codec_tag = 0;
    ost->time_base = vs->time_base;
  } else {
    encoder = std::make_unique<VideoTrack>(vs, oc.get(), fps);
    ost = encoder->stream();
  }
  // Keep the rotation: players turn the clip like the source.
  size_t matrixSize = 0;
  const uint8_t* matrix = av_stream_get_side_data(vs, AV_PKT_DATA_DISPLAYMATRIX, &matrixSize);
  if (matrix && matrixSize >= 9 * sizeof(int32_t)) {
    uint8_t* dst = av_stream_new_side_data(ost, AV_PKT_DATA_DISPLAYMATRIX, matrixSize);
    if (dst) std::memcpy(dst, matrix, matrixSize);
  }
  std::unique_ptr<AudioTrack> audio;
  if (file.audioStream()) {
    try {
      audio = std::make_unique<AudioTrack>(file.audioStream(), oc.get(), file.startTime());
    } catch (const MediaError&) {
      if (oc->nb_streams > 1) throw;  // the stream exists but its encoder failed half way
      audio.reset();                  // an undecodable audio track: a clip without sound
    }
  }
  if (!audio && file.audioStream()) fmt->streams[file.audioIndex()]->discard = AVDISCARD_ALL;

  int err = avio_open(&oc->pb, output.c_str(), AVIO_FLAG_WRITE);
  if (err < 0) throw MediaError(ErrorCode::Internal, "cannot write the clip (" + avErrorText(err) + ")");
  AVDictionary* muxOpts = nullptr;
  av_dict_set(&muxOpts, "movflags", "+faststart", 0);  // moov first: browsers start playing at once
  err = avformat_write_header(oc.get(), &muxOpts);
  av_dict_free(&muxOpts);
  check(err, "cannot write the clip header");

  CutResult result;
  result.copied = copy;
  PacketPtr pkt = makePacket();
  if (copy) {
    const CutSpan& span = spans[0];
    seekBefore(file, span.start + halfFrame * 0.5);
    if (audio) audio->beginSpan(span.start, span.end, 0, oc.get());
    int64_t zero = AV_NOPTS_VALUE;
    int64_t lastEnd = 0;
    bool videoDone = false;
    while ((!videoDone || (audio && !audio->spanDone())) && readPacket(file, pkt.get())) {
      PacketRef unref(pkt.get());
      double t = packetTime(file, pkt.get());
      if (videoDone && std::isfinite(t) && t > span.end + 2) break;  // audio ran out before the span's end
      if (audio && pkt->stream_index == audio->index()) {
        audio->decode(pkt.get(), oc.get());
        continue;
      }
      if (pkt->stream_index != file.videoIndex() || videoDone || pkt->pts == AV_NOPTS_VALUE) continue;
      if (zero == AV_NOPTS_VALUE) {
        if (!(pkt->flags & AV_PKT_FLAG_KEY)) continue;
        zero = pkt->pts;
      }
      if (t >= span.end - halfFrame) {
        videoDone = true;
        continue;
      }
      if (pkt->pts < zero) continue;  // leading pictures of the previous GOP
      pkt->pts -= zero;
      pkt->dts = pkt->dts == AV_NOPTS_VALUE ? pkt->pts : pkt->dts - zero;
      lastEnd = std::max(lastEnd, pkt->pts + std::max<int64_t>(pkt->duration, 0));
      av_packet_rescale_ts(pkt.get(), vs->time_base, ost->time_base);
      pkt->stream_index = ost->index;
      pkt->pos = -1;
      check(av_interleaved_write_frame(oc.get(), pkt.get()), "cannot write the clip");
      ++result.frames;
    }
    if (audio && !audio->spanDone()) audio->decode(nullptr, oc.get());
    result.duration = lastEnd * av_q2d(vs->time_base);
  } else {
    DecoderOptions dopt;
    dopt.threads = 2;
    VideoDecoder decoder(vs, dopt);
    double offset = 0;
    for (const CutSpan& span : spans) {
      seekBefore(file, span.start);
      decoder.reset();
      if (audio) audio->beginSpan(span.start, span.end, offset, oc.get());
      bool videoDone = false;
      FrameCallback onFrame = [&](AVFrame* frame) {
        double t = file.seconds(frame->best_effort_timestamp, vs->time_base);
        if (!std::isfinite(t) || videoDone) return;
        if (t >= span.end - halfFrame) {
          videoDone = true;
          return;
        }
        if (t >= span.start - halfFrame) encoder->add(frame, offset + std::max(0.0, t - span.start), oc.get());
      };
      bool eof = true;
      while ((!videoDone || (audio && !audio->spanDone()))) {
        if (!readPacket(file, pkt.get())) break;
        PacketRef unref(pkt.get());
        double t = packetTime(file, pkt.get());
        if (videoDone && std::isfinite(t) && t > span.end + 2) {
          eof = false;
          break;
        }
        if (pkt->stream_index == file.videoIndex()) {
          if (!videoDone) decoder.decode(pkt.get(), onFrame);
        } else if (audio && pkt->stream_index == audio->index()) {
          audio->decode(pkt.get(), oc.get());
        }
      }
      if (eof && !videoDone) decoder.decode(nullptr, onFrame);  // the span runs to the end: drain
      if (eof && audio && !audio->spanDone()) audio->decode(nullptr, oc.get());
      offset += span.end - span.start;
    }
    encoder->finish(oc.get());
    result.frames = encoder->frames();
    result.duration = encoder->end();
  }
  file.throwIfCancelled();
  if (result.frames == 0) throw MediaError(ErrorCode::DecodeError, "no frame of the span could be decoded");
  if (audio) audio->finish(result.duration, oc.get());
  check(av_write_trailer(oc.get()), "cannot finish the clip");
  return result;
}

}  // namespace engine
