// The errors a request can get, as status code and llama.cpp's type names (tools written against llama-server
// match on them). Thrown by parsing and handlers, turned into each API's error shape at the route.
#pragma once

#include <stdexcept>
#include <string>

namespace rkchat::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, const std::string& message)
      : std::runtime_error(message), status_(status), type_(std::move(type)) {}
  int status() const { return status_; }
  // invalid_request_error | authentication_error | not_found_error | exceed_context_size_error |
  // unavailable_error | server_error
  const std::string& type() const { return type_; }
  int n_prompt_tokens = 0;  // exceed_context_size_error only
  int n_ctx = 0;
  int retry_after_s = 0;  // unavailable_error: the Retry-After header

 private:
  int status_;
  std::string type_;
};

inline ApiError bad_request(const std::string& message) { return ApiError(400, "invalid_request_error", message); }
inline ApiError not_found(const std::string& message) { return ApiError(404, "not_found_error", message); }

}  // namespace rkchat::server
