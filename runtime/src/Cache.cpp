//===- Cache.cpp - the on-disk cache ---------------------------------------===//
//
// See Cache.h.
//
//===----------------------------------------------------------------------===//

#include "Cache.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace attnc::rt;

std::string attnc::rt::cacheDirectory() {
  if (const char *dir = std::getenv("ATTNC_CACHE_DIR"); dir && *dir)
    return dir;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/attnc";
  if (const char *home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/attnc";
  return "/tmp/attnc-cache-" + std::to_string(getuid());
}

bool attnc::rt::makeDirectories(const std::string &path) {
  for (size_t slash = 0; slash != std::string::npos;) {
    slash = path.find('/', slash + 1);
    std::string prefix = path.substr(0, slash);
    if (!prefix.empty() && mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
      return false;
  }
  return true;
}

uint64_t attnc::rt::fnv1a64(const void *data, size_t size, uint64_t seed) {
  const unsigned char *bytes = static_cast<const unsigned char *>(data);
  uint64_t hash = seed;
  for (size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::string attnc::rt::hex64(uint64_t value) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", (unsigned long long)value);
  return buffer;
}

bool attnc::rt::publishFile(const std::string &path, const void *bytes,
                            size_t size, std::string *error) {
  size_t slash = path.rfind('/');
  std::string directory = slash == std::string::npos ? "." : path.substr(0, slash);
  if (!makeDirectories(directory)) {
    *error = "cannot create " + directory + ": " + std::strerror(errno);
    return false;
  }
  std::string pattern = path + ".tmp-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  int fd = mkstemp(name.data());
  if (fd < 0) {
    *error = "cannot create a file in " + directory + ": " + std::strerror(errno);
    return false;
  }
  const char *at = static_cast<const char *>(bytes);
  size_t left = size;
  while (left) {
    ssize_t written = write(fd, at, left);
    if (written <= 0) {
      *error = "cannot write " + std::string(name.data()) + ": " +
               std::strerror(errno);
      close(fd);
      unlink(name.data());
      return false;
    }
    at += written;
    left -= size_t(written);
  }
  fchmod(fd, 0644);
  if (close(fd) != 0 || std::rename(name.data(), path.c_str()) != 0) {
    *error = "cannot publish " + path + ": " + std::strerror(errno);
    unlink(name.data());
    return false;
  }
  return true;
}
