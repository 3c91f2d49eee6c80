#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "llmserve/common/error.h"
#include "llmserve/model/safetensors.h"

namespace llmserve::model {
namespace {

namespace fs = std::filesystem;

// A safetensors file: u64 header length, header JSON, then `data_bytes` bytes of data.
std::string make_file(const std::string& header, std::size_t data_bytes, char fill = '\x01') {
  std::string file(8, '\0');
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    file[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return file + header + std::string(data_bytes, fill);
}

std::span<const std::byte> bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Expects parse_safetensors_header to throw an Error whose message contains `needle`.
void expect_error(const std::string& file, const std::string& needle) {
  try {
    parse_safetensors_header(bytes(file), "x.safetensors");
    FAIL() << "no error; expected one containing: " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("x.safetensors"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, ParsesValidHeader) {
  const auto file = make_file(
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
      R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}})",
      32);
  const auto header = parse_safetensors_header(bytes(file), "x");
  ASSERT_EQ(header.tensors.size(), 2u);
  EXPECT_EQ(header.data_start, file.size() - 32);
  const auto& a = header.tensors[0].name == "a" ? header.tensors[0] : header.tensors[1];
  EXPECT_EQ(a.dtype, DType::kF32);
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(a.num_bytes, 24u);
}

TEST(Safetensors, ScalarAndEmptyTensors) {
  const auto file = make_file(
      R"({"s":{"dtype":"F16","shape":[],"data_offsets":[0,2]},"e":{"dtype":"F32","shape":[0,5],"data_offsets":[2,2]}})",
      2);
  EXPECT_EQ(parse_safetensors_header(bytes(file), "x").tensors.size(), 2u);
}

TEST(Safetensors, RejectsTruncatedFiles) {
  expect_error(std::string(5, '\0'), "truncated");
  const auto file = make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8);
  expect_error(file.substr(0, 20), "exceeds the file");
  expect_error(file.substr(0, file.size() - 1), "outside the data section");
}

TEST(Safetensors, RejectsCorruptHeaders) {
  expect_error(make_file("{not json", 0), "not a JSON object");
  expect_error(make_file("[1,2]", 0), "not a JSON object");
  expect_error(make_file(R"({"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8),
               "unsupported dtype");
  expect_error(make_file(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4), "missing \"dtype\"");
  expect_error(make_file(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", 4), "missing \"shape\"");
  expect_error(make_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
               "non-negative");
  expect_error(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4),
               "data_offsets");
  expect_error(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4),
               "outside the data section");
  expect_error(make_file(R"({"__metadata__":3})", 0), "__metadata__");
}

TEST(Safetensors, RejectsShapeByteRangeMismatch) {
  expect_error(make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
               "needs 12 bytes");
  // A shape whose element count overflows 64 bits must not wrap around to a small size.
  expect_error(
      make_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0),
      "too large");
}

TEST(Safetensors, EmptyTensorSharingAnOffsetIsNotAnOverlap) {
  const auto file = make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})",
                              8);
  EXPECT_EQ(parse_safetensors_header(bytes(file), "x").tensors.size(), 2u);
  // A dimension beyond int64 after a zero must not pass as an empty tensor.
  expect_error(
      make_file(R"({"a":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}})",
                0),
      "too large");
}

TEST(Safetensors, RejectsOverlaps) {
  expect_error(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                         12),
               "overlap");
}

// Random byte flips of a valid file either parse or throw Error; never anything else.
TEST(Safetensors, RandomCorruptionsNeverCrash) {
  const auto valid = make_file(
      R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}})",
      32);
  std::mt19937 rng(std::random_device{}());
  for (int trial = 0; trial < 2000; ++trial) {
    std::string file = valid;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) file[rng() % file.size()] = static_cast<char>(rng());
    if (rng() % 4 == 0) file.resize(rng() % file.size());
    try {
      parse_safetensors_header(bytes(file), "x");
    } catch (const Error&) {
    }
  }
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("llmserve_ckpt_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name, std::ios::binary) << content;
  }
  fs::path dir_;
};

TEST_F(CheckpointTest, ReadsSingleFile) {
  std::string data(8, '\0');
  const float values[2] = {1.5f, -2.0f};
  std::memcpy(data.data(), values, 8);
  write("model.safetensors",
        make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 0) + data);
  const auto checkpoint = Checkpoint::open(dir_);
  const auto view = checkpoint.find("w");
  ASSERT_TRUE(view.has_value());
  float out[2];
  std::memcpy(out, view->data, 8);
  EXPECT_EQ(out[0], 1.5f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_FALSE(checkpoint.find("missing").has_value());
}

TEST_F(CheckpointTest, FollowsShardIndex) {
  write("a.safetensors", make_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4));
  write("b.safetensors", make_file(R"({"y":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})", 2));
  write("model.safetensors.index.json",
        R"({"metadata":{"total_size":6},"weight_map":{"x":"a.safetensors","y":"b.safetensors"}})");
  const auto checkpoint = Checkpoint::open(dir_);
  EXPECT_TRUE(checkpoint.find("x").has_value());
  EXPECT_TRUE(checkpoint.find("y").has_value());
  EXPECT_EQ(checkpoint.tensor_names().size(), 2u);
}

TEST_F(CheckpointTest, ShardErrorsNameTheFile) {
  write("a.safetensors", make_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4));
  write("model.safetensors.index.json",
        R"({"weight_map":{"x":"a.safetensors","z":"a.safetensors","y":"missing.safetensors"}})");
  try {
    Checkpoint::open(dir_);
    FAIL();
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_TRUE(message.find("missing.safetensors") != std::string::npos ||
                message.find("\"z\"") != std::string::npos)
        << message;
  }
  write("model.safetensors.index.json", R"({"weight_map":{"x":"../a.safetensors"}})");
  EXPECT_THROW(Checkpoint::open(dir_), Error);
  write("model.safetensors.index.json", R"({"nothing":1})");
  EXPECT_THROW(Checkpoint::open(dir_), Error);
}

TEST_F(CheckpointTest, DuplicateTensorAcrossShards) {
  const auto shard = make_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4);
  write("a.safetensors", shard);
  write("b.safetensors", shard);
  write("model.safetensors.index.json",
        R"({"weight_map":{"x":"a.safetensors","x2":"b.safetensors"}})");
  EXPECT_THROW(Checkpoint::open(dir_), Error);
}

TEST_F(CheckpointTest, NoWeights) {
  try {
    Checkpoint::open(dir_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos);
  }
}

}  // namespace
}  // namespace llmserve::model
