// JPEG files from packed RGB24 pictures, through libavcodec's mjpeg encoder.
#pragma once

#include <cstdint>
#include <string>

namespace engine {

// Encodes a width x height RGB24 picture and writes it to `path` (through a temporary file
// renamed into place, so a reader never sees half a JPEG). Returns false with a reason (never
// a path) in `error`.
bool writeJpeg(const uint8_t* rgb, int width, int height, const std::string& path, std::string& error);

// `pattern` with "{n}" replaced by n.
std::string numberedPath(const std::string& pattern, long long n);

}  // namespace engine
