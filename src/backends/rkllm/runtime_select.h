// Which librkllmrt.so to load and which ABI family to speak to it, decided before anything is loaded:
// the model's toolkit version (the .rkllm trailer), the runtimes on disk and their versions (folder name,
// file name, or the version text inside the library), and the user's overrides.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace rkchat::backends::rkllm {

struct Version {
  int major = 0, minor = 0, patch = 0;
  std::string text;  // as found, e.g. "1.2.1b1"
  bool same_release(const Version& o) const { return major == o.major && minor == o.minor && patch == o.patch; }
  bool same_minor(const Version& o) const { return major == o.major && minor == o.minor; }
};

// "1.2.1", "v1.2.3", "1.2.1b1" -> {1,2,1}; nullopt when the text does not start with X.Y.Z.
std::optional<Version> parse_version(const std::string& text);

// The toolkit version from the last bytes of a .rkllm file ("rkllm-toolkit version: X.Y.Z"); nullopt when the
// trailer is absent. Throws Error when the file cannot be read.
std::optional<Version> read_toolkit_version(const std::string& model_path);

// The version a runtime file states: in its own name (librkllmrt-X.Y.Z.so), its folder (X.Y.Z/librkllmrt.so)
// or, failing that, the version text inside the library bytes. `source` says which.
struct RuntimeFile {
  std::string path;
  std::optional<Version> version;
  std::string source;  // "file name" | "folder name" | "library text" | ""
};
RuntimeFile describe_runtime(const std::string& path);
std::optional<Version> version_in_library_bytes(const std::string& path);

// The whole file (also /proc and /sys files, whose size reads as 0); "" when it cannot be read or is not a
// regular file.
std::string read_file(const std::string& path);

// Runtimes in a folder of runtimes, sorted by version.
std::vector<RuntimeFile> list_runtime_dir(const std::string& dir);

struct SearchOptions {
  std::string lib;                      // --rkllm-lib, else $RKCHAT_RKLLM_LIB
  std::string lib_dir;                  // --rkllm-lib-dir, else $RKCHAT_RKLLM_LIB_DIR
  std::vector<std::string> usual_dirs;  // searched last, in order
};
// The search options from LoadOptions-style values and the environment, with the usual places filled in
// (/usr/lib, /usr/local/lib, the folder of the running binary).
SearchOptions search_options(const std::string& lib, const std::string& lib_dir);

struct Selection {
  RuntimeFile runtime;
  std::vector<std::string> warnings;  // e.g. "picked 1.2.3 for a model of toolkit 1.2.1"
};
// Applies the search order. Throws Error naming what was searched and what to install.
Selection select_runtime(const SearchOptions& search, const std::optional<Version>& toolkit);

// 12 for 1.2.x, 13 for 1.3.x. `abi_flag` ("", "1.2", "1.3") wins; else the runtime's version. Throws Error when
// neither says, or the version is a family rkchat does not speak.
int abi_family(const std::string& abi_flag, const std::optional<Version>& runtime_version, const std::string& lib);

}  // namespace rkchat::backends::rkllm
