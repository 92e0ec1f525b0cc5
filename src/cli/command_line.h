// How vxpu answers a command line it cannot take: one line on stderr that says what was wrong
// and how to write it, and the exit code of the rule every command follows (README, "Exit
// codes"): 2 for bad input, and for `vxpu run`, whose command owns the other codes, 125.
#pragma once

#include <CLI/CLI.hpp>

namespace vxpu {

constexpr int kBadInput = 2;

// Before parsing `vxpu run ...`: an option before the command that `run` does not know (CLI11
// would take it for the command's first word). Prints the line and returns 125; 0 if none.
int CheckRunOptions(CLI::App& run, int argc, char** argv);

// After CLI11 refused the command line with `e`: prints the line, returns the exit code.
int ReportParseError(CLI::App& app, const CLI::ParseError& e, int argc, char** argv);

}  // namespace vxpu
