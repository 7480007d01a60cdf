#include "jpeg.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "av_raii.h"

namespace engine {

std::string numberedPath(const std::string& pattern, long long n) {
  std::string out = pattern;
  size_t at = out.find("{n}");
  if (at != std::string::npos) out.replace(at, 3, std::to_string(n));
  return out;
}

bool writeJpeg(const uint8_t* rgb, int width, int height, const std::string& path, std::string& error) {
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
  if (!codec) {
    error = "no JPEG encoder";
    return false;
  }
  CodecContextPtr ctx(avcodec_alloc_context3(codec));
  FramePtr frame = makeFrame();
  PacketPtr pkt = makePacket();
  if (!ctx) {
    error = "out of memory";
    return false;
  }
  ctx->width = width;
  ctx->height = height;
  ctx->pix_fmt = AV_PIX_FMT_YUVJ420P;  // full-range 4:2:0, what JPEG decoders expect
  ctx->time_base = AVRational{1, 25};
  ctx->flags |= AV_CODEC_FLAG_QSCALE;
  ctx->global_quality = FF_QP2LAMBDA * 4;  // qscale 4: good quality at thumbnail sizes
  int err = avcodec_open2(ctx.get(), codec, nullptr);
  if (err < 0) {
    error = "cannot open the JPEG encoder (" + avErrorText(err) + ")";
    return false;
  }
  frame->format = ctx->pix_fmt;
  frame->width = width;
  frame->height = height;
  if ((err = av_frame_get_buffer(frame.get(), 0)) < 0) {
    error = "out of memory";
    return false;
  }
  SwsPtr sws(sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUVJ420P, SWS_BICUBIC, nullptr,
                            nullptr, nullptr));
  if (!sws) {
    error = "cannot convert the picture";
    return false;
  }
  const uint8_t* src[4] = {rgb, nullptr, nullptr, nullptr};
  int srcStride[4] = {width * 3, 0, 0, 0};
  sws_scale(sws.get(), src, srcStride, 0, height, frame->data, frame->linesize);
  frame->pts = 0;
  if ((err = avcodec_send_frame(ctx.get(), frame.get())) < 0 || (err = avcodec_send_frame(ctx.get(), nullptr)) < 0 ||
      (err = avcodec_receive_packet(ctx.get(), pkt.get())) < 0) {
    error = "cannot encode the JPEG (" + avErrorText(err) + ")";
    return false;
  }
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    error = std::string("cannot write the JPEG: ") + std::strerror(errno);
    return false;
  }
  bool ok = std::fwrite(pkt->data, 1, pkt->size, f) == static_cast<size_t>(pkt->size);
  int writeErr = ok ? 0 : errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    writeErr = errno;
  }
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    writeErr = errno;
  }
  if (!ok) {
    std::remove(tmp.c_str());
    error = std::string("cannot write the JPEG: ") + std::strerror(writeErr);
  }
  return ok;
}

}  // namespace engine
