// Video/audio decoders and frame converters (swscale/swresample), all RAII.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "av_raii.h"

namespace engine {

struct DecoderOptions {
  int threads = 1;              // cores for this decoder (FFmpeg frame/slice threads, see the constructor)
  bool skipNonRef = false;      // AVDISCARD_NONREF: don't decode frames nothing depends on
  bool skipLoopFilter = false;  // skip the in-loop deblocking filter (cheaper, slightly blockier)
};

using FrameCallback = std::function<void(AVFrame*)>;

// Bitstream errors never throw: they're counted, and the decoder carries on with the next packet.
class VideoDecoder {
 public:
  VideoDecoder(AVStream* stream, const DecoderOptions& options);

  // Decodes one packet (nullptr flushes at end of stream) and hands every produced frame to onFrame.
  void decode(const AVPacket* pkt, const FrameCallback& onFrame);
  // Simple two-step API used by probe: send then receive until false.
  void send(const AVPacket* pkt);
  void flush() { send(nullptr); }
  bool receive(AVFrame* frame);
  // After a seek.
  void reset() { avcodec_flush_buffers(ctx_.get()); }

  int errors() const { return errors_; }
  AVCodecContext* context() const { return ctx_.get(); }

 private:
  void drain(const FrameCallback& onFrame);
  CodecContextPtr ctx_;
  int errors_ = 0;
};

// Converts decoded frames to packed GRAY8 or RGB24 at a given display size, applying rotation.
// Rebuilds its swscale context when the input size or pixel format changes mid-stream.
class FrameScaler {
 public:
  FrameScaler(AVPixelFormat dst, int rotation) : dst_(dst), rotation_(rotation) {}
  // dstW/dstH are display (rotated) dimensions. Returns false for unusable frames.
  bool convert(const AVFrame* src, int dstW, int dstH, std::vector<uint8_t>& out);
  int channels() const { return dst_ == AV_PIX_FMT_GRAY8 ? 1 : 3; }

 private:
  AVPixelFormat dst_;
  int rotation_;
  SwsContext* sws_ = nullptr;  // owned via swsOwner_
  SwsPtr swsOwner_;
  std::vector<uint8_t> scratch_;
};

// Largest size with the same aspect ratio that fits maxW x maxH (both >= 1; 0 = unbounded).
void fitSize(int w, int h, int maxW, int maxH, int& outW, int& outH);

// Decodes an audio stream to mono float samples at the stream's rate.
class AudioDecoder {
 public:
  // samples, count, time (seconds, relative to the file's start) of the first sample.
  using SampleCallback = std::function<void(const float*, int, double)>;

  AudioDecoder(AVStream* stream, double startTime);
  ~AudioDecoder();
  AudioDecoder(const AudioDecoder&) = delete;
  AudioDecoder& operator=(const AudioDecoder&) = delete;
  void decode(const AVPacket* pkt, const SampleCallback& onSamples);
  int sampleRate() const { return rate_; }
  int errors() const { return errors_; }

 private:
  void convert(AVFrame* frame, const SampleCallback& onSamples);
  AVStream* stream_;
  double startTime_;
  CodecContextPtr ctx_;
  SwrPtr swr_;
  AVChannelLayout swrInLayout_{};
  int swrInRate_ = 0;
  int swrInFormat_ = -1;
  int rate_ = 0;
  int errors_ = 0;
  double nextTime_ = -1;
  FramePtr frame_;
  std::vector<float> buf_;
};

}  // namespace engine
