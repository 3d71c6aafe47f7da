#include "engine/app/npy.h"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace ritsu::engine::app {

Status WriteNpyF32(const std::string& path, const std::vector<int64_t>& shape, const float* data) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  int64_t n = 1;
  for (int64_t d : shape) {
    dict += std::to_string(d) + ", ";
    n *= d;
  }
  // Python's tuple repr: "(2, 3)" but "(5,)".
  if (shape.size() > 1) dict.resize(dict.size() - 2);
  else if (!shape.empty()) dict.resize(dict.size() - 1);
  dict += "), }";
  // magic(6) + version(2) + header length(2) + dict + '\n' is padded to a multiple of 64.
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict.push_back('\n');
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::IOError("cannot create " + path + ": " + std::strerror(errno));
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(dict.size());
  out.write(reinterpret_cast<const char*>(&len), 2);
  out.write(dict.data(), static_cast<std::streamsize>(dict.size()));
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * sizeof(float)));
  if (!out) return Status::IOError("writing " + path + " failed");
  return Status::Ok();
}

}  // namespace ritsu::engine::app
