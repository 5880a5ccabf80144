// The chat page (web/) and the Debian-packaged scripts it uses (marked, highlight.js), embedded into the binary at
// build time (cmake/embed.cmake), so that `rkchat serve` works with no internet connection and nothing installed.
#pragma once

#include <span>
#include <string_view>

namespace rkchat::web {

struct Asset {
  std::string_view path;          // the URL path it is served at: "/" is the page, the rest under /assets/
  std::string_view content_type;  // with a charset for text
  std::string_view etag;          // quoted, from the content: a browser revalidates instead of downloading again
  std::string_view bytes;
};

// Every embedded file.
std::span<const Asset> assets();

// The asset served at a URL path, or nullptr.
const Asset* find_asset(std::string_view path);

}  // namespace rkchat::web
