// An exclusive advisory lock on a file (flock), held through an open descriptor. The kernel
// releases it when the process ends, however it ends, so a kill -9 never blocks the next start.
#pragma once

#include <string>

namespace engine {

struct LockResult {
  int fd;           // the held descriptor, or -1
  int error;        // errno when fd is -1; EWOULDBLOCK means another process holds the lock
};

LockResult lockExclusive(const std::string& path);

}  // namespace engine
