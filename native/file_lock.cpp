#include "file_lock.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace engine {

LockResult lockExclusive(const std::string& path) {
  // Read-only: the lock needs no write access, and a descriptor open for writing would keep the
  // filesystem from being remounted read-only.
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return {-1, errno};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    return {-1, err};
  }
  return {fd, 0};
}

}  // namespace engine
