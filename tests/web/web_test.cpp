// The embedded page: every file is there, byte for byte, at its URL with its content type.
#include "web/web.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(Web, PageIsServedAtRootAsHtml) {
  const auto* page = rkchat::web::find_asset("/");
  ASSERT_NE(page, nullptr);
  EXPECT_EQ(page->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(page->bytes, read_file(RKCHAT_WEB_DIR "/index.html"));
}

TEST(Web, EveryScriptAndStyleThePageNamesIsEmbedded) {
  const std::string_view html = rkchat::web::find_asset("/")->bytes;
  int named = 0;
  for (const auto& a : rkchat::web::assets()) {
    if (a.path == "/") continue;
    std::string quoted = "\"";
    quoted.append(a.path).push_back('"');
    EXPECT_NE(html.find(quoted), std::string_view::npos) << a.path << " is not used";
    EXPECT_GT(a.bytes.size(), 100u) << a.path;
    ++named;
  }
  EXPECT_EQ(named, 6);
  EXPECT_EQ(rkchat::web::find_asset("/assets/app.js")->bytes, read_file(RKCHAT_WEB_DIR "/app.js"));
  EXPECT_EQ(rkchat::web::find_asset("/assets/style.css")->content_type, "text/css; charset=utf-8");
}

TEST(Web, BinaryContentSurvivesEmbedding) {
  // The Debian scripts are the largest files and hold non-ASCII bytes: they must come through whole.
  const auto* hl = rkchat::web::find_asset("/assets/highlight.min.js");
  ASSERT_NE(hl, nullptr);
  EXPECT_EQ(hl->bytes, read_file(RKCHAT_JS_DIR "/highlight.js/highlight.min.js"));
}

TEST(Web, EtagsFollowTheContent) {
  const auto* page = rkchat::web::find_asset("/");
  const auto* app = rkchat::web::find_asset("/assets/app.js");
  EXPECT_EQ(page->etag.size(), 18u);
  EXPECT_EQ(page->etag.front(), '"');
  EXPECT_NE(page->etag, app->etag);
}

TEST(Web, UnknownPathsAreNotFound) {
  EXPECT_EQ(rkchat::web::find_asset("/assets/"), nullptr);
  EXPECT_EQ(rkchat::web::find_asset("/index.html/.."), nullptr);
  EXPECT_EQ(rkchat::web::find_asset(""), nullptr);
}

}  // namespace
