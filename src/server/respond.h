// What every API's handler shares: running a Generation into a whole answer or a stream, and filling the
// request's log line from it. Each API supplies its formats.
#pragma once

#include <memory>
#include <string>

#include "server/generation.h"
#include "server/http.h"

namespace rkchat::server {

// The pieces of one API's streamed answer.
class StreamFormat {
 public:
  virtual ~StreamFormat() = default;
  virtual std::string content_type() const = 0;
  virtual std::string begin() { return ""; }
  virtual std::string delta(int choice, const chat::OutputDelta& d) = 0;
  virtual std::string end(const Generation& g) = 0;           // after the last update: closing events
  virtual std::string error(const std::string& message) = 0;  // the stream ends in an error event, never cut
};

// A streamed response: polls the generation, writes each delta, ends with end() or error(); a client that goes
// away cancels the generation.
HttpResponse stream_response(std::shared_ptr<Generation> gen, std::shared_ptr<StreamFormat> format);

// Figures of a finished generation into the request's log.
void fill_log(RequestLog& log, const Generation& g);

// A random id such as "chatcmpl-3f9a..." (prefix + 24 hex digits).
std::string random_id(const std::string& prefix);
// Seconds since the epoch.
int64_t unix_time();

// The JSON text of a response body (invalid UTF-8 replaced, never thrown on).
std::string dump(const nlohmann::ordered_json& j);

}  // namespace rkchat::server
