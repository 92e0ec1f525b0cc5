// vxpu: slice, pool and schedule accelerators. One binary, one subcommand per task.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "commit.h"

#include "cli/bench_share.h"
#include "cli/command_line.h"
#include "cli/demo.h"
#include "cli/devices.h"
#include "cli/ps.h"
#include "cli/run.h"
#include "cli/run_remote.h"
#include "cli/sim.h"
#include "cli/throwaway_device.h"
#include "cli/top.h"
#include "remote/server/remoted.h"
#include "slice/node_link.h"

namespace {

const char* const kExitCodes =
    "Exit codes: 0 done, 1 the work failed, 2 bad input (flags, values, files); vxpu run: the command's "
    "own, 125 for vxpu's errors, 126/127 when the command cannot be executed / is not found.";

// "-o json" / "-o table": the output format every subcommand accepts.
void AddOutputOption(CLI::App* command, bool* json) {
  command
      ->add_option_function<std::string>(
          "-o,--output", [json](const std::string& format) { *json = format == "json"; },
          "Output format: table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vxpu: slice, pool and schedule GPUs (virtual XPUs)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("vxpu ") + VXPU_VERSION_STRING + " (commit " + VXPU_COMMIT + ")");
  app.footer(kExitCodes);

  vxpu::DemoOptions demo;
  CLI::App* demo_cmd =
      app.add_subcommand("demo", "Run a few workloads on one simulated GPU (or NPU) and show live what each gets");
  demo_cmd->add_option("--seconds", demo.seconds, "Length of the demo in seconds")
      ->check(CLI::Range(2.0, 600.0))
      ->capture_default_str();
  demo_cmd->add_flag("--npu", demo.npu, "On a simulated Ascend NPU (simnpu, ACL workloads) instead of a GPU");
  AddOutputOption(demo_cmd, &demo.json);

  vxpu::DevicesOptions devices;
  CLI::App* devices_cmd = app.add_subcommand("devices", "List the GPUs of this machine");
  devices_cmd->add_flag("--sim", devices.sim, "List the simulated GPUs (simgpu) instead of real ones");
  AddOutputOption(devices_cmd, &devices.json);

  vxpu::RunOptions run;
  CLI::App* run_cmd = app.add_subcommand("run", "Run a command under a slice of a GPU or an NPU (no daemon needed)");
  run_cmd->add_option("--memory", run.memory, "Device memory quota: a size (20GiB, 512MiB) or a percentage (25%)");
  run_cmd->add_option("--compute", run.compute,
                      "Guaranteed share of each device's compute time, in percent (30); idle time of others is used "
                      "up to --compute-limit");
  run_cmd->add_option("--compute-limit", run.compute_limit, "Ceiling on the compute share, in percent (default 100)");
  run_cmd->add_flag("--strict", run.strict, "Never exceed the guaranteed share (--compute-limit = --compute)");
  run_cmd->add_option("--priority", run.priority, "normal, or high: gets the device first while within its share")
      ->capture_default_str();
  run_cmd->add_option("--compute-step", run.compute_step, "Granularity of --compute, in percent")
      ->capture_default_str();
  run_cmd
      ->add_option_function<std::string>(
          "--name",
          [&run](const std::string& name) {
            run.name = name;
            run.name_given = true;
          },
          "Slice name; processes run under one name share its quotas")
      ->default_str("run-<pid>");
  run_cmd->add_option("--device", run.device,
                      "Restrict the command to these devices, comma-separated: GPU ordinals (0), gpuN, npuN or UUIDs "
                      "(sets CUDA_VISIBLE_DEVICES and ASCEND_RT_VISIBLE_DEVICES). Default: every GPU, or every NPU on "
                      "a machine without GPUs");
  run_cmd->add_flag("--sim", run.sim,
                    "Run on the simulated devices (simgpu's GPUs, simnpu's NPUs) instead of the real drivers");
  run_cmd->add_option(
      "--remote", run.remote,
      "Run on a slice of another machine's GPU: HOST:PORT of its vxpu remoted (driver-API and CUDA runtime programs; "
      "--memory and --compute are asked of the server)");
  run_cmd->add_option("--token-file", run.token_file,
                      "With --remote: the file holding the server's token (default $VXPU_REMOTE_TOKEN_FILE)");
  run_cmd->add_option("command", run.command, "The command and its arguments (after --)")->required();
  run_cmd->footer(
      "Where the slice lives: with a vxpud (found on $VXPU_AGENT_SOCKET, else vxpud.sock in $VXPU_STATE_DIR, else "
      "in /var/run/vxpu, else through the agent beacon), the slice is registered there, checked against every slice "
      "it knows, and kept in its state directory; a VXPU_STATE_DIR or VXPU_AGENT_SOCKET pointing where no agent runs "
      "while one serves the node is refused. With none (or VXPU_AGENT_SOCKET=none), daemonless in $VXPU_STATE_DIR "
      "(default /dev/shm), checked against the slices vxpu run set up there.\n"
      "Exit code: the command's; 125 for vxpu's own errors (bad options included), 126 if the command cannot be "
      "executed, 127 if it is not found.");

  vxpu::RemotedOptions remoted;
  CLI::App* remoted_cmd = app.add_subcommand(
      "remoted", "Serve remote vXPUs: programs on other machines run on slices of this machine's GPU");
  remoted_cmd->add_option("--listen", remoted.listen, "HOST:PORT to listen on (port 0: any free port)")->required();
  remoted_cmd->add_option("--token-file", remoted.token_file, "File with the token sessions must present (mode 600)")
      ->required();
  remoted_cmd->add_option("--device", remoted.device, "The device sessions run on: ordinal or UUID")
      ->capture_default_str();
  remoted_cmd
      ->add_option("--memory", remoted.limits.memory,
                   "Each session's memory quota at most, and by default: a size (20GiB) or a percentage (25%)")
      ->required();
  remoted_cmd->add_option("--compute", remoted.limits.compute,
                          "Each session's guaranteed compute share at most, and by default, in percent (default: "
                          "none, sessions share the device's time)");
  remoted_cmd->add_option("--timeout-ms", remoted.timeout_ms, "Silence after which a session is given up")
      ->check(CLI::Range(100u, 3600000u))
      ->capture_default_str();
  remoted_cmd
      ->add_option("--max-sessions", remoted.max_sessions, "Sessions at once (each is a process); more are refused")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  remoted_cmd->add_option("--image-cache", remoted.image_cache,
                          "Where module and library images are kept, by content, for later sessions (default: "
                          "$XDG_CACHE_HOME/vxpu/images or ~/.cache/vxpu/images; /var/cache/vxpu/images for root; "
                          "none: keep nothing)");
  remoted_cmd
      ->add_option("--image-cache-size", remoted.image_cache_size,
                   "The most the image cache holds; the least recently used go first")
      ->capture_default_str();
  remoted_cmd->add_flag("--sim", remoted.sim, "Serve the simulated GPU (simgpu) instead of the real driver");

  vxpu::BenchShareOptions bench_share;
  CLI::App* bench_cmd = app.add_subcommand("bench", "Self-tests to run on your own hardware");
  bench_cmd->require_subcommand(1);
  CLI::App* share_cmd = bench_cmd->add_subcommand(
      "share", "Compute isolation: one saturating tenant per share; prints the share each achieved");
  share_cmd->add_option("--shares", bench_share.shares, "Compute shares in percent, one tenant each")
      ->capture_default_str();
  share_cmd->add_option("--seconds", bench_share.seconds, "How long the tenants run together")
      ->check(CLI::Range(1.0, 600.0))
      ->capture_default_str();
  share_cmd->add_flag(
      "--sim", bench_share.sim,
      "Run on a simulated device of its own (simgpu's, simnpu's with --npu) instead of the real driver");
  share_cmd->add_flag("--npu", bench_share.npu, "Share an NPU (tenants: vxpu-acl burn on NPU 0) instead of a GPU");
  AddOutputOption(share_cmd, &bench_share.json);
  share_cmd->add_option("--plot", bench_share.plot,
                        "Also draw each tenant's share over time (FILE.png or FILE.svg; needs gnuplot)");

  bool ps_json = false;
  CLI::App* ps_cmd = app.add_subcommand("ps", "List the slices on this machine with their processes and usage");
  AddOutputOption(ps_cmd, &ps_json);

  vxpu::TopOptions top;
  CLI::App* top_cmd = app.add_subcommand("top", "Show each compute slice's share of device time, live");
  top_cmd->add_option("--interval", top.interval, "Seconds between updates (the share is measured over it)")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  top_cmd->add_option("-n,--iterations", top.iterations, "Updates to show, then exit (default: until interrupted)")
      ->check(CLI::Range(1, 1000000));
  AddOutputOption(top_cmd, &top.json);
  top_cmd->add_option("--plot", top.plot,
                      "Also draw the shares over time, redrawn each update (FILE.png or FILE.svg; needs gnuplot)");
  top_cmd->footer("With -o json: measures one interval, prints one JSON object and exits.");

  vxpu::AddSimCommand(app);

  if (int code = vxpu::CheckRunOptions(*run_cmd, argc, argv); code != 0) return code;
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {  // a command that ran and ended (vxpu sim)
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return vxpu::ReportParseError(app, e, argc, argv);
  }
  // Every command below reads or starts slices: in the node agent's state directory if one runs.
  // The demo and the share bench run on throwaway simulated devices no agent knows: without one.
  if (*demo_cmd || *share_cmd) setenv("VXPU_AGENT_SOCKET", "none", 1);
  // On a simulated NPU they take one in a state directory of their own (an NPU's UUID is its
  // place), set before anything reads VXPU_STATE_DIR.
  std::unique_ptr<vxpu::ThrowawayNpu> chip;
  if ((*demo_cmd && demo.npu) || (*share_cmd && bench_share.npu && bench_share.sim)) {
    chip = std::make_unique<vxpu::ThrowawayNpu>(*demo_cmd ? "demo" : "bench-share");
    if (!chip->ok()) {
      std::fprintf(stderr, "vxpu: cannot make a state directory for the simulated NPU in /tmp\n");
      return 1;
    }
  }
  std::string error;
  if (int code = vxpu::PrepareNodeState(&error); code != 0) {
    std::fprintf(stderr, "vxpu %s: %s\n", app.get_subcommands().front()->get_name().c_str(), error.c_str());
    return *run_cmd ? vxpu::kRunError : code;
  }
  if (*run_cmd) return run.remote.empty() ? vxpu::RunUnderSlice(run) : vxpu::RunRemote(run);
  if (*remoted_cmd) return vxpu::ServeRemote(remoted);
  if (*ps_cmd) return vxpu::ListSlices(ps_json);
  if (*top_cmd) return vxpu::RunTop(top);
  if (*share_cmd) return vxpu::RunBenchShare(bench_share);
  if (*demo_cmd) return vxpu::RunDemo(demo);
  if (*devices_cmd) return vxpu::RunDevices(devices);
  return 1;
}
