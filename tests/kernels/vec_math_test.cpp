#include "kernels/vec_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace rkchat::kernels {
namespace {

TEST(ExpApprox, MatchesStdExpOverTheWholeRange) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> wide(-87.0f, 88.0f), near0(-1.0f, 1.0f);
  double worst = 0;
  for (int i = 0; i < 200000; ++i) {
    const float x = i % 2 ? wide(rng) : near0(rng);
    const double want = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(static_cast<double>(exp_approx(x)) - want) / want);
  }
  for (float x : {-87.0f, -86.5f, -0.5f * 0.6931472f, 0.0f, 0.3465736f, 1.0f, 87.9f, 88.0f}) {
    const double want = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(static_cast<double>(exp_approx(x)) - want) / want);
  }
  EXPECT_LT(worst, 2e-7);
  EXPECT_EQ(exp_approx(0.0f), 1.0f);
}

TEST(ExpApprox, EdgesSaturateAndNaNPropagates) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(exp_approx(-inf), 0.0f);
  EXPECT_EQ(exp_approx(-87.5f), 0.0f);
  EXPECT_EQ(exp_approx(-1000.0f), 0.0f);
  EXPECT_FLOAT_EQ(exp_approx(inf), std::exp(88.0f));
  EXPECT_FLOAT_EQ(exp_approx(1000.0f), std::exp(88.0f));
  EXPECT_TRUE(std::isnan(exp_approx(std::numeric_limits<float>::quiet_NaN())));
}

}  // namespace
}  // namespace rkchat::kernels
