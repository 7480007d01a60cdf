#include "log_watch.h"

#include <cstdarg>
#include <cstring>

extern "C" {
#include <libavutil/log.h>
}

namespace engine {

namespace {

thread_local TruncationWatch* tlWatch = nullptr;
thread_local bool* tlSeen = nullptr;

void callback(void*, int level, const char* fmt, va_list) {
  if (!tlSeen || level > AV_LOG_WARNING || !fmt) return;
  // matroskadec: "File ended prematurely at pos. ..."; mov: "stream %d, offset 0x%x: partial file".
  if (std::strstr(fmt, "ended prematurely") || std::strstr(fmt, "partial file")) *tlSeen = true;
}

}  // namespace

void installLogWatch() { av_log_set_callback(callback); }

TruncationWatch::TruncationWatch() : previous_(tlWatch) {
  tlWatch = this;
  tlSeen = &seen_;
}

TruncationWatch::~TruncationWatch() {
  tlWatch = previous_;
  tlSeen = previous_ ? &previous_->seen_ : nullptr;
}

}  // namespace engine
