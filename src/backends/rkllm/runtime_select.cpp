#include "backends/rkllm/runtime_select.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "backends/backend.h"

namespace rkchat::backends::rkllm {

namespace fs = std::filesystem;

namespace {

constexpr const char* kLibName = "librkllmrt.so";
constexpr std::string_view kToolkitTag = "rkllm-toolkit version: ";
// The runtime prints "rkllm-runtime version: X.Y.Z, ..." at init; the text sits in the library's bytes.
constexpr std::string_view kRuntimeTag = "rkllm-runtime version: ";

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

bool version_less(const RuntimeFile& a, const RuntimeFile& b) {
  auto key = [](const RuntimeFile& r) {
    return r.version ? std::tuple(r.version->major, r.version->minor, r.version->patch) : std::tuple(-1, -1, -1);
  };
  return key(a) < key(b);
}

std::string describe_list(const std::vector<RuntimeFile>& found) {
  std::vector<std::string> items;
  for (const auto& r : found) items.push_back(r.path + " (" + (r.version ? r.version->text : "version unknown") + ")");
  return items.empty() ? "none" : join(items, ", ");
}

Selection pick_from_dir(const std::string& dir, const std::optional<Version>& toolkit) {
  auto found = list_runtime_dir(dir);
  if (found.empty()) {
    throw Error("no RKLLM runtime in " + dir + " (expected " + dir + "/librkllmrt-X.Y.Z.so or " + dir +
                "/X.Y.Z/librkllmrt.so)");
  }
  if (!toolkit) {
    Selection s{found.back(), {}};
    s.warnings.push_back("the model states no toolkit version; using the newest runtime in " + dir + ": " +
                         s.runtime.path);
    return s;
  }
  for (const auto& r : found) {
    if (r.version && r.version->same_release(*toolkit)) return {r, {}};
  }
  for (auto it = found.rbegin(); it != found.rend(); ++it) {
    if (it->version && it->version->same_minor(*toolkit)) {
      return {*it,
              {"no runtime " + toolkit->text + " in " + dir + " for this model (toolkit " + toolkit->text +
               "); using " + it->version->text + ": answers may be empty or wrong, install runtime " + toolkit->text +
               " for reliable results"}};
    }
  }
  throw Error("no RKLLM runtime in " + dir + " matches the model's toolkit version " + toolkit->text +
              "; found: " + describe_list(found) + ". Add " + dir + "/" + toolkit->text +
              "/librkllmrt.so from rknn-llm release " + toolkit->text +
              ", or convert the model with a toolkit "
              "matching one of these runtimes");
}

}  // namespace

std::optional<Version> parse_version(const std::string& text) {
  static const std::regex re(R"(^v?(\d+)\.(\d+)\.(\d+)[0-9A-Za-z._+-]*)");
  std::smatch m;
  if (!std::regex_search(text, m, re)) return std::nullopt;
  Version v;
  v.major = std::stoi(m[1]);
  v.minor = std::stoi(m[2]);
  v.patch = std::stoi(m[3]);
  v.text = m[0].str();
  if (!v.text.empty() && v.text[0] == 'v') v.text.erase(0, 1);
  return v;
}

std::optional<Version> read_toolkit_version(const std::string& model_path) {
  std::ifstream in(model_path, std::ios::binary);
  if (!in) throw Error("cannot open model " + model_path);
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::streamoff>(in.tellg());
  const std::streamoff tail = std::min<std::streamoff>(size, 128);  // the tag and version fit well within
  std::string bytes(static_cast<size_t>(tail), '\0');
  in.seekg(size - tail);
  if (!in.read(bytes.data(), tail)) throw Error("cannot read the trailer of " + model_path);
  const auto pos = bytes.rfind(kToolkitTag);
  if (pos == std::string::npos) return std::nullopt;
  return parse_version(bytes.substr(pos + kToolkitTag.size()));
}

std::string read_file(const std::string& path) {
  std::string out;
  // Regular files only: a named pipe in their place would block the read forever, a device never end.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return out;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return out;
  char buf[65536];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  std::fclose(f);
  return out;
}

std::optional<Version> version_in_library_bytes(const std::string& path) {
  const std::string bytes = read_file(path);
  for (auto pos = bytes.find(kRuntimeTag); pos != std::string::npos; pos = bytes.find(kRuntimeTag, pos + 1)) {
    // The tag may also appear as a format string ("...: %s"); keep looking for one followed by digits.
    if (auto v = parse_version(bytes.substr(pos + kRuntimeTag.size(), 32))) return v;
  }
  return std::nullopt;
}

RuntimeFile describe_runtime(const std::string& path) {
  RuntimeFile r{path, std::nullopt, ""};
  const fs::path p(path);
  const std::string name = p.filename().string();
  const std::string prefix = "librkllmrt-";
  if (name.rfind(prefix, 0) == 0) {
    if ((r.version = parse_version(name.substr(prefix.size())))) r.source = "file name";
  }
  if (!r.version) {
    if ((r.version = parse_version(p.parent_path().filename().string()))) r.source = "folder name";
  }
  if (!r.version) {
    if ((r.version = version_in_library_bytes(path))) r.source = "library text";
  }
  return r;
}

std::vector<RuntimeFile> list_runtime_dir(const std::string& dir) {
  std::vector<RuntimeFile> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto name = e.path().filename().string();
    if (e.is_directory(ec) && parse_version(name) && fs::exists(e.path() / kLibName, ec)) {
      found.push_back(describe_runtime((e.path() / kLibName).string()));
    } else if (name.rfind("librkllmrt-", 0) == 0 && name.size() > 3 && name.ends_with(".so")) {
      found.push_back(describe_runtime(e.path().string()));
    }
  }
  std::sort(found.begin(), found.end(), version_less);
  return found;
}

SearchOptions search_options(const std::string& lib, const std::string& lib_dir) {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  SearchOptions s;
  s.lib = lib.empty() ? env("RKCHAT_RKLLM_LIB") : lib;
  s.lib_dir = lib_dir.empty() ? env("RKCHAT_RKLLM_LIB_DIR") : lib_dir;
  s.usual_dirs = {"/usr/lib", "/usr/local/lib"};
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) s.usual_dirs.push_back(exe.parent_path().string());
  return s;
}

Selection select_runtime(const SearchOptions& search, const std::optional<Version>& toolkit) {
  if (!search.lib.empty()) {
    if (!fs::exists(search.lib)) throw Error("RKLLM runtime " + search.lib + " does not exist");
    return {describe_runtime(search.lib), {}};
  }
  if (!search.lib_dir.empty()) return pick_from_dir(search.lib_dir, toolkit);
  for (const auto& dir : search.usual_dirs) {
    const auto path = (fs::path(dir) / kLibName).string();
    if (fs::exists(path)) return {describe_runtime(path), {}};
  }
  throw Error(std::string(kLibName) + " (Rockchip's RKLLM runtime) not found; searched " +
              join(search.usual_dirs, ", ") +
              ". Install it from github.com/airockchip/rknn-llm (rkllm-runtime/Linux/librkllm_api/aarch64/"
              "librkllmrt.so, the release matching the model's toolkit" +
              (toolkit ? " " + toolkit->text : std::string()) +
              ") into /usr/lib, or pass --rkllm-lib PATH or --rkllm-lib-dir DIR (or set RKCHAT_RKLLM_LIB / "
              "RKCHAT_RKLLM_LIB_DIR)");
}

int abi_family(const std::string& abi_flag, const std::optional<Version>& runtime_version, const std::string& lib) {
  if (abi_flag == "1.2") return 12;
  if (abi_flag == "1.3") return 13;
  if (!abi_flag.empty()) throw Error("unknown RKLLM ABI '" + abi_flag + "' (expected 1.2 or 1.3)");
  if (!runtime_version) {
    throw Error("cannot tell the version of the RKLLM runtime " + lib +
                " (not in its file or folder name, nor in its text); name it librkllmrt-X.Y.Z.so or pass "
                "--rkllm-abi 1.2|1.3");
  }
  const auto& v = *runtime_version;
  if (v.major == 1 && v.minor == 2 && v.patch >= 1) return 12;
  if (v.major == 1 && v.minor == 3) return 13;
  throw Error("RKLLM runtime " + v.text + " (" + lib +
              ") speaks an ABI rkchat does not know (supported: 1.2.1-1.2.3, 1.3.x); pass --rkllm-abi 1.2|1.3 "
              "only if you know its layout matches");
}

}  // namespace rkchat::backends::rkllm
