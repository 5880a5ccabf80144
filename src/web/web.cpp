#include "web/web.h"

namespace rkchat::web {

const Asset* find_asset(std::string_view path) {
  for (const auto& a : assets()) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

}  // namespace rkchat::web
