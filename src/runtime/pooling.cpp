#include "runtime/pooling.h"

#include <cmath>

namespace rkchat::runtime::detail {

std::pair<int, int> pooled_rows(backends::Pooling pooling, int n) {
  switch (pooling) {
    case backends::Pooling::cls:
      return {0, 1};
    case backends::Pooling::last:
      return {n - 1, n};
    case backends::Pooling::mean:
    case backends::Pooling::none:
      break;
  }
  return {0, n};
}

std::vector<float> mean_normalized(const float* hidden, int rows, int width) {
  // Sums in double: a mean over thousands of rows should not depend on their order more than float rounding of
  // the result does.
  std::vector<double> sum(static_cast<size_t>(width), 0.0);
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < width; ++i)
      sum[static_cast<size_t>(i)] += static_cast<double>(hidden[static_cast<size_t>(r) * width + i]);
  double norm = 0.0;
  for (double v : sum) norm += v * v;
  norm = std::sqrt(norm);
  // The mean's 1/rows cancels in the normalization.
  const double scale = norm > 0.0 ? 1.0 / norm : 0.0;
  std::vector<float> out(static_cast<size_t>(width));
  for (int i = 0; i < width; ++i) out[static_cast<size_t>(i)] = static_cast<float>(sum[static_cast<size_t>(i)] * scale);
  return out;
}

}  // namespace rkchat::runtime::detail
