#include "av_raii.h"

namespace engine {

const char* errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::UnsupportedMedia: return "unsupported_media";
    case ErrorCode::DecodeError: return "decode_error";
    case ErrorCode::Cancelled: return "cancelled";
    case ErrorCode::Internal: return "internal";
  }
  return "internal";
}

std::string avErrorText(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  if (av_strerror(err, buf, sizeof buf) < 0) return "unknown libav error " + std::to_string(err);
  return buf;
}

FramePtr makeFrame() {
  FramePtr frame(av_frame_alloc());
  if (!frame) throw MediaError(ErrorCode::Internal, "out of memory allocating a frame");
  return frame;
}

PacketPtr makePacket() {
  PacketPtr pkt(av_packet_alloc());
  if (!pkt) throw MediaError(ErrorCode::Internal, "out of memory allocating a packet");
  return pkt;
}

}  // namespace engine
