#pragma once
// One function per subcommand; each returns the process exit code and lets llmserve::Error
// propagate to main(), which prints it on one line and exits 1.
#include "llmserve/config/cli.h"

namespace llmserve::commands {

int run(const config::ServeOptions& options);
int run(const config::GenerateOptions& options);
int run(const config::TokenizeOptions& options);
int run(const config::KvPlanOptions& options);

}  // namespace llmserve::commands
