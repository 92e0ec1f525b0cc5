// vxpu: slice, pool and schedule accelerators. One binary, one subcommand per task.
#include <CLI/CLI.hpp>

#include "cli/demo.h"
#include "cli/devices.h"

namespace {

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
  app.set_version_flag("--version", std::string("vxpu ") + VXPU_VERSION_STRING);

  vxpu::DemoOptions demo;
  CLI::App* demo_cmd =
      app.add_subcommand("demo", "Run a few workloads on one simulated GPU and show live what each gets");
  demo_cmd->add_option("--seconds", demo.seconds, "Length of the demo in seconds")
      ->check(CLI::Range(2.0, 600.0))
      ->capture_default_str();
  AddOutputOption(demo_cmd, &demo.json);

  vxpu::DevicesOptions devices;
  CLI::App* devices_cmd = app.add_subcommand("devices", "List the GPUs of this machine");
  devices_cmd->add_flag("--sim", devices.sim, "List the simulated GPUs (simgpu) instead of real ones");
  AddOutputOption(devices_cmd, &devices.json);

  CLI11_PARSE(app, argc, argv);
  if (*demo_cmd) return vxpu::RunDemo(demo);
  if (*devices_cmd) return vxpu::RunDevices(devices);
  return 1;
}
