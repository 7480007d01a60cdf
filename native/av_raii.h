// RAII owners for the libav* objects the engine uses, plus the error type every native
// failure is converted to before it reaches JavaScript.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include <memory>
#include <stdexcept>
#include <string>

namespace engine {

// Error codes match EngineErrorCode in src/engine/types.ts.
enum class ErrorCode { UnsupportedMedia, DecodeError, Cancelled, Internal };

const char* errorCodeName(ErrorCode code);

class MediaError : public std::runtime_error {
 public:
  MediaError(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Human text for a libav error number.
std::string avErrorText(int err);

struct FormatContextDeleter {
  void operator()(AVFormatContext* ctx) const { avformat_close_input(&ctx); }
};
struct CodecContextDeleter {
  void operator()(AVCodecContext* ctx) const { avcodec_free_context(&ctx); }
};
struct FrameDeleter {
  void operator()(AVFrame* frame) const { av_frame_free(&frame); }
};
struct PacketDeleter {
  void operator()(AVPacket* pkt) const { av_packet_free(&pkt); }
};
struct SwsDeleter {
  void operator()(SwsContext* ctx) const { sws_freeContext(ctx); }
};
struct SwrDeleter {
  void operator()(SwrContext* ctx) const { swr_free(&ctx); }
};

using FormatContextPtr = std::unique_ptr<AVFormatContext, FormatContextDeleter>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using SwsPtr = std::unique_ptr<SwsContext, SwsDeleter>;
using SwrPtr = std::unique_ptr<SwrContext, SwrDeleter>;

FramePtr makeFrame();
PacketPtr makePacket();

// Clears an AVPacket reference when it goes out of scope (after av_read_frame).
class PacketRef {
 public:
  explicit PacketRef(AVPacket* pkt) : pkt_(pkt) {}
  ~PacketRef() { av_packet_unref(pkt_); }
  PacketRef(const PacketRef&) = delete;
  PacketRef& operator=(const PacketRef&) = delete;

 private:
  AVPacket* pkt_;
};

}  // namespace engine
