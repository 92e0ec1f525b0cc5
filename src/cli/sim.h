// `vxpu sim`: the cluster simulator. `vxpu sim replay` runs the FGD paper's experiment (pods
// arrive until 130% of the cluster's GPUs are requested, nothing leaves) for several policies
// and seeds; `vxpu sim timed` replays the trace's own arrival and departure times with a queue.
#pragma once

#include <CLI/CLI.hpp>

namespace vxpu {

// Adds `sim` and its subcommands to `app`. The chosen one runs when the command line has been
// parsed and ends the parse with its exit code (CLI::RuntimeError, which CLI11_PARSE returns).
void AddSimCommand(CLI::App& app);

}  // namespace vxpu
