// ModelPool with --models: models unloaded, least recently used first, when a new one would not fit in the
// memory left, and a model refused when it cannot fit at all. The available memory is faked.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "server/api_error.h"
#include "server/models.h"

namespace rkchat::server {
namespace {

namespace fs = std::filesystem;

class ModelPoolMemory : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rkchat-pool-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    for (const char* name : {"a", "b", "c"})
      fs::copy_file(std::string(RKCHAT_FIXTURES_DIR) + "/tiny-qwen3-f32.gguf", dir_ / (std::string(name) + ".gguf"),
                    fs::copy_options::overwrite_existing);
    PoolOptions o;
    o.models_dir = dir_.string();
    o.load.threads = 1;
    o.keep_alive = std::chrono::seconds(0);
    o.max_loaded = 3;
    o.engine.parallel = 2;
    o.available_memory = [this] { return available_; };
    pool_ = std::make_unique<ModelPool>(o);
    available_ = uint64_t(1) << 40;
    need_ = pool_->get("a")->bytes;  // every copy needs the same
    pool_->unload("a");
  }
  void TearDown() override {
    pool_.reset();
    fs::remove_all(dir_);
  }
  std::vector<std::string> loaded() const {
    std::vector<std::string> names;
    for (const auto& m : pool_->loaded()) names.push_back(m->name);
    std::sort(names.begin(), names.end());
    return names;
  }
  // Memory left, in models' worth.
  void left(double models) { available_ = static_cast<uint64_t>(models * static_cast<double>(need_)); }

  fs::path dir_;
  std::unique_ptr<ModelPool> pool_;
  uint64_t available_ = 0, need_ = 0;
};

TEST_F(ModelPoolMemory, EstimateCoversWeightsAndKv) {
  const uint64_t file = fs::file_size(dir_ / "a.gguf");
  EXPECT_GT(need_, file);  // plus the activations and the KV cache of two slots
}

TEST_F(ModelPoolMemory, LeastRecentlyUsedIdleModelGoesFirst) {
  pool_->get("a");
  pool_->get("b");
  pool_->get("a");  // b is now the least recently used
  left(0.5);        // c needs one model's worth: b goes, a stays
  pool_->get("c");
  EXPECT_EQ(loaded(), (std::vector<std::string>{"a", "c"}));
}

TEST_F(ModelPoolMemory, BusyModelsStayAndIdleOnesGo) {
  auto held = pool_->get("a");
  pool_->get("b");
  pool_->get("a");
  left(0.25);  // a is more recent but in use: b, the idle one, goes
  pool_->get("c");
  EXPECT_EQ(loaded(), (std::vector<std::string>{"a", "c"}));
}

TEST_F(ModelPoolMemory, RefusedWhenEvenUnloadingIdleModelsCannotMakeRoom) {
  auto a = pool_->get("a");
  auto b = pool_->get("b");
  left(0.9);
  try {
    pool_->get("c");
    FAIL() << "c was loaded";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 503);
    EXPECT_EQ(e.type(), "unavailable_error");
    EXPECT_NE(std::string(e.what()).find("model 'c' needs about"), std::string::npos) << e.what();
  }
  EXPECT_EQ(loaded(), (std::vector<std::string>{"a", "b"}));  // nothing was unloaded for nothing
  b.reset();
  pool_->get("c");  // b is idle now: it makes the room
  EXPECT_EQ(loaded(), (std::vector<std::string>{"a", "c"}));
}

TEST_F(ModelPoolMemory, NothingUnloadedWhenItFits) {
  pool_->get("a");
  pool_->get("b");
  left(1.5);
  pool_->get("c");
  EXPECT_EQ(loaded(), (std::vector<std::string>{"a", "b", "c"}));
}

}  // namespace
}  // namespace rkchat::server
