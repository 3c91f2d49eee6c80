// llmserve-loadgen: runs a sweep of load levels x prompt lengths against a server and writes one
// JSON file for the sweep (scripts/plot_results.py draws it).
#include <fmt/format.h>

#include <exception>
#include <fstream>
#include <iostream>

#include "options.h"
#include "progress_bar.h"
#include "report.h"
#include "server_queries.h"

int main(int argc, char** argv) {
  using namespace llmserve::loadgen;
  auto parsed = parse_options(argc, argv);
  if (const auto* exit = std::get_if<ExitCode>(&parsed)) return exit->code;
  Options& options = std::get<Options>(parsed);
  try {
    if (options.target.api == Api::kOpenAi && options.target.model.empty()) {
      options.target.model = first_model_id(options.target);
    }
    options.defaults.progress = options.defaults.progress && stderr_is_terminal();
    std::vector<RunResult> runs;
    for (const RunPlan& plan : sweep_plans(options)) {
      runs.push_back(execute_run(options.target, plan));
      if (!runs.back().metrics_error.empty()) {
        std::cerr << fmt::format("llmserve-loadgen: KV-cache samples stopped: {}\n",
                                 runs.back().metrics_error);
      }
    }
    std::ofstream out(options.output);
    out << sweep_json(options.base_url, options.target, runs).dump(2) << '\n';
    if (!out) throw std::runtime_error(fmt::format("cannot write {}", options.output));
    std::cout << sweep_table(runs) << fmt::format("wrote {}\n", options.output);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << fmt::format("llmserve-loadgen: error: {}\n", e.what());
    return 1;
  }
}
