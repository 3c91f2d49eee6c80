// Bad checkpoints give an llmserve::Error naming the file or tensor, never a crash.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "llmserve/backend/cpu_backend.h"
#include "llmserve/common/error.h"
#include "llmserve/common/file.h"
#include "llmserve/model/model_runner.h"
#include "llmserve/model/model_weights.h"
#include "llmserve/model/safetensors.h"

namespace llmserve::model {
namespace {

namespace fs = std::filesystem;

class ModelLoadingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = fs::path(LLMSERVE_FIXTURES_DIR) / "gpt2-f32";
    dir_ = fs::temp_directory_path() /
           ("llmserve_load_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::copy(source_, dir_);
    backend_ = backend::make_cpu_backend();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void edit_config(const std::function<void(nlohmann::json&)>& edit) {
    auto config = nlohmann::json::parse(read_text_file(dir_ / "config.json"));
    edit(config);
    std::ofstream(dir_ / "config.json") << config.dump();
  }
  // The message of the Error that loading throws ("" if none).
  std::string load_error() {
    try {
      ModelRunner::load(dir_, *backend_);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  fs::path source_, dir_;
  std::unique_ptr<backend::Backend> backend_;
};

TEST_F(ModelLoadingTest, LoadsTheFixture) { EXPECT_EQ(load_error(), ""); }

TEST_F(ModelLoadingTest, MissingTensorIsNamed) {
  edit_config([](auto& c) { c["n_layer"] = 3; });
  const auto message = load_error();
  EXPECT_NE(message.find("missing tensor \"h.2.ln_1.weight\""), std::string::npos) << message;
  EXPECT_NE(message.find("transformer.h.2.ln_1.weight"), std::string::npos) << message;
}

TEST_F(ModelLoadingTest, WrongShapeNamesTensorAndFile) {
  edit_config([](auto& c) { c["n_positions"] = 256; });
  const auto message = load_error();
  EXPECT_NE(message.find("\"wpe.weight\""), std::string::npos) << message;
  EXPECT_NE(message.find("model.safetensors"), std::string::npos) << message;
  EXPECT_NE(message.find("expected [256, 64]"), std::string::npos) << message;
}

TEST_F(ModelLoadingTest, TruncatedFile) {
  const auto path = dir_ / "model.safetensors";
  fs::resize_file(path, fs::file_size(path) / 2);
  const auto message = load_error();
  EXPECT_NE(message.find("model.safetensors"), std::string::npos) << message;
  EXPECT_NE(message.find("outside the data section"), std::string::npos) << message;
}

TEST_F(ModelLoadingTest, CorruptHeader) {
  {
    std::fstream f(dir_ / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(12);
    f.write("\xff\xfe garbage", 10);
  }
  const auto message = load_error();
  EXPECT_NE(message.find("model.safetensors"), std::string::npos) << message;
}

TEST_F(ModelLoadingTest, UntiedHeadNeedsItsTensor) {
  edit_config([](auto& c) { c["tie_word_embeddings"] = false; });
  EXPECT_NE(load_error().find("missing tensor \"lm_head.weight\""), std::string::npos);
}

TEST_F(ModelLoadingTest, GenerationConfigAddsEosIds) {
  std::ofstream(dir_ / "generation_config.json") << R"({"eos_token_id": [50256, 198]})";
  EXPECT_EQ(load_model_spec(dir_).eos_token_ids, (std::vector<std::int32_t>{50256, 198}));
  std::ofstream(dir_ / "generation_config.json") << R"({"eos_token_id": 99999999})";
  EXPECT_NE(load_error().find("generation_config.json"), std::string::npos);
}

TEST_F(ModelLoadingTest, UnsupportedArchitecture) {
  edit_config([](auto& c) { c["architectures"] = {"MambaForCausalLM"}; });
  EXPECT_NE(load_error().find("unsupported architecture \"MambaForCausalLM\""), std::string::npos);
}

TEST_F(ModelLoadingTest, MissingWeightsAndConfig) {
  fs::remove(dir_ / "model.safetensors");
  EXPECT_NE(load_error().find("no weights in"), std::string::npos);
  fs::remove(dir_ / "config.json");
  EXPECT_NE(load_error().find("config.json not found"), std::string::npos);
  fs::remove_all(dir_);
  EXPECT_NE(load_error().find("does not exist"), std::string::npos);
}

// GPT-2 checkpoints, the real one included, also hold each layer's causal mask (h.N.attn.bias):
// a buffer, not a parameter, which the loader does not read.
bool is_gpt2_mask_buffer(std::string_view name) {
  return name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias");
}

// parameter_count states each architecture's tensors a second time, beside its loader: it must
// agree with every fixture checkpoint (GPT-2; Qwen2 and Llama, untied, with and without biases),
// each of which holds the tensors its loader reads and, for GPT-2, mask buffers.
TEST(ParameterCount, EqualsTheValuesOfEveryFixture) {
  int fixtures = 0;
  for (const auto& entry : fs::directory_iterator(LLMSERVE_FIXTURES_DIR)) {
    // Hidden entries are fixtures being generated.
    if (entry.path().filename().string().starts_with('.') ||
        !fs::exists(entry.path() / "config.json")) {
      continue;
    }
    const Checkpoint checkpoint = Checkpoint::open(entry.path());
    std::int64_t values = 0;
    for (const auto& name : checkpoint.tensor_names()) {
      if (!is_gpt2_mask_buffer(name)) values += checkpoint.find(name)->info->num_elements();
    }
    EXPECT_EQ(parameter_count(load_model_spec(entry.path())), values) << entry.path();
    ++fixtures;
  }
  EXPECT_GE(fixtures, 6);
}

}  // namespace
}  // namespace llmserve::model
