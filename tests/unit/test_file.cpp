#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "llmserve/common/error.h"
#include "llmserve/common/file.h"

namespace llmserve {
namespace {

namespace fs = std::filesystem;

class FileTest : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const std::string& content) {
    const auto path = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
    std::ofstream(path, std::ios::binary) << content;
    paths_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const auto& p : paths_) fs::remove(p);
  }
  std::vector<fs::path> paths_;
};

std::string contents(const MappedFile& file) {
  return {reinterpret_cast<const char*>(file.bytes().data()), file.bytes().size()};
}

TEST_F(FileTest, MapsAndMovesMappings) {
  const auto a = write(std::string(40, 'a'), "first file");
  const auto b = write(std::string(40, 'b'), "second, longer file");
  MappedFile first(a);
  MappedFile second(b);
  first = std::move(second);  // the old mapping of `first` must be released, not leaked or reused
  EXPECT_EQ(contents(first), "second, longer file");
  EXPECT_EQ(first.path(), b);
  MappedFile third(std::move(first));
  EXPECT_EQ(contents(third), "second, longer file");
  EXPECT_TRUE(first.bytes().empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
}

TEST_F(FileTest, EmptyFileMapsToNothing) {
  EXPECT_TRUE(MappedFile(write("empty", "")).bytes().empty());
}

TEST_F(FileTest, ErrorsNameThePath) {
  try {
    MappedFile missing("/nonexistent/llmserve/file");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/llmserve/file"), std::string::npos);
  }
  EXPECT_THROW(read_text_file("/nonexistent/llmserve/file"), Error);
  EXPECT_EQ(read_text_file(write("text", "hello\nworld")), "hello\nworld");
}

}  // namespace
}  // namespace llmserve
