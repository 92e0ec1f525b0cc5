#include "cli/command_line.h"

#include <cstdio>
#include <string>

#include "cli/cli_messages.h"
#include "cli/run.h"

namespace vxpu {
namespace {

// The subcommands the parse reached: "run", "sim replay", "" for none; *deepest the last one.
std::string CommandPath(CLI::App& app, CLI::App** deepest = nullptr) {
  std::string path;
  CLI::App* at = &app;
  while (!at->get_subcommands().empty()) {
    at = at->get_subcommands().front();
    path += (path.empty() ? "" : " ") + at->get_name();
  }
  if (deepest != nullptr) *deepest = at;
  return path;
}

std::string SubcommandNames(CLI::App& app) {
  std::string names;
  for (const CLI::App* sub : app.get_subcommands({})) names += (names.empty() ? "" : ", ") + sub->get_name();
  return names;
}

bool HasSeparator(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") return true;
  }
  return false;
}

// What is wrong before the command of `vxpu run ARGS`: an option `run` does not know, or (when
// a -- follows) a word that is neither an option nor an option's value; "" if nothing.
std::string MisplacedRunArgument(CLI::App& run, int argc, char** argv) {
  bool separated = HasSeparator(argc, argv);
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") return "";
    if (arg.size() < 2 || arg[0] != '-') {
      if (!separated) return "";  // the command starts here
      return "\"" + arg + "\" before -- is neither an option nor an option's value (a value is one word: " +
             "--memory 4GiB); the command goes after --";
    }
    if (arg == "-h" || arg == "--help") continue;
    const CLI::Option* option = run.get_option_no_throw(arg.substr(0, arg.find('=')));
    if (option == nullptr) return "unknown option " + arg + DidYouMean(arg, run);
    if (option->get_items_expected_min() > 0 && arg.find('=') == std::string::npos) ++i;  // its value
  }
  return "";
}

// What to say when no command was recognised.
std::string NoCommand(CLI::App& app, int argc, char** argv) {
  std::string what = "no command given";
  if (argc > 1) what = std::string(argv[1][0] == '-' ? "unknown option" : "unknown command") + " \"" + argv[1] + "\"";
  return what + " (commands: " + SubcommandNames(app) + "; see vxpu --help)";
}

}  // namespace

int CheckRunOptions(CLI::App& run, int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) != "run") return 0;
  std::string wrong = MisplacedRunArgument(run, argc, argv);
  if (wrong.empty()) return 0;
  std::fprintf(stderr, "vxpu run: %s (see vxpu run --help)\n", wrong.c_str());
  return kRunError;
}

int ReportParseError(CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  CLI::App* deepest = &app;
  std::string path = CommandPath(app, &deepest);
  std::string message = e.what();
  bool extras = dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr;
  if (path.empty()) {
    message = NoCommand(app, argc, argv);
  } else if (path == "run" && extras && !HasSeparator(argc, argv)) {
    // `vxpu run --memory 1GiB ls -l`: the command's own options were taken for vxpu's.
    message += ": put -- before the command (vxpu run [OPTIONS] -- COMMAND [ARGS...])";
  } else if (path == "run" && message == "command is required") {
    message = "no command given (vxpu run [OPTIONS] -- COMMAND [ARGS...])";
  } else {
    message = PlainParseError(e, *deepest) + " (see vxpu " + path + " --help)";
  }
  std::fprintf(stderr, "vxpu%s%s: %s\n", path.empty() ? "" : " ", path.c_str(), message.c_str());
  return path == "run" ? kRunError : kBadInput;
}

}  // namespace vxpu
