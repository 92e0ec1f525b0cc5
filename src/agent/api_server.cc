#include "agent/api_server.h"

#include "interposer/slice_ledger.h"

namespace vxpu {
namespace {

constexpr size_t kMaxBody = 64 * 1024;

void Reply(httplib::Response& res, const ApiReply& reply) {
  res.status = reply.status;
  res.set_content(reply.body.dump() + "\n", "application/json");
}

void ReplyError(httplib::Response& res, int status, const std::string& message) {
  Reply(res, ApiReply{status, {{"error", message}}});
}

// The slice name in the path (matches[1]), or empty after answering 400.
std::string SliceName(const httplib::Request& req, httplib::Response& res) {
  std::string name = req.matches[1];
  if (!SliceLedger::ValidSliceName(name)) {
    ReplyError(res, 400, "bad slice name \"" + name + "\" (want 1-64 of A-Z a-z 0-9 . _ -)");
    return "";
  }
  return name;
}

void InstallWrites(NodeAgent* agent, httplib::Server* server) {
  server->Post("/v1/slices", [agent](const httplib::Request& req, httplib::Response& res) {
    Reply(res, agent->CreateSlice(req.body));
  });
  server->Delete(R"(/v1/slices/([^/]*))", [agent](const httplib::Request& req, httplib::Response& res) {
    std::string name = SliceName(req, res);
    if (!name.empty()) Reply(res, agent->DeleteSlice(name));
  });
}

void InstallErrorHandlers(httplib::Server* server) {
  server->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a route answered with its own error
    std::string message = res.status == 404   ? "no such endpoint: " + req.method + " " + req.path
                          : res.status == 413 ? "request body over " + std::to_string(kMaxBody) + " bytes"
                                              : "bad request (" + std::to_string(res.status) + ")";
    ReplyError(res, res.status, message);
  });
  server->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    ReplyError(res, 500, "internal error");
  });
}

}  // namespace

void InstallApi(NodeAgent* agent, const ApiInfo& info, ApiAccess access, httplib::Server* server) {
  server->set_payload_max_length(kMaxBody);
  server->Get("/v1/info", [agent, info](const httplib::Request&, httplib::Response& res) {
    const AgentOptions& o = agent->options();
    Reply(res, ApiReply{200,
                        {{"version", info.version},
                         {"state_dir", o.state_dir},
                         {"socket", info.socket},
                         {"sim", info.sim},
                         {"node", info.node},
                         {"context_reserve_bytes", o.context_reserve}}});
  });
  server->Get("/v1/devices", [agent](const httplib::Request&, httplib::Response& res) {
    Reply(res, ApiReply{200, DevicesToJson(agent->Devices())});
  });
  server->Get("/v1/slices", [agent](const httplib::Request&, httplib::Response& res) {
    Reply(res, ApiReply{200, SlicesToJson(agent->Slices())});
  });
  server->Get(R"(/v1/slices/([^/]*))", [agent](const httplib::Request& req, httplib::Response& res) {
    std::string name = SliceName(req, res);
    if (!name.empty()) Reply(res, agent->GetSlice(name));
  });
  if (access == ApiAccess::kReadOnly) {
    auto refuse = [](const httplib::Request& req, httplib::Response& res) {
      ReplyError(res, 405, req.method + " " + req.path + ": this endpoint is read-only (use the unix socket)");
    };
    server->Post(".*", refuse);
    server->Put(".*", refuse);
    server->Delete(".*", refuse);
    server->Patch(".*", refuse);
  } else {
    InstallWrites(agent, server);
  }
  InstallErrorHandlers(server);
}

}  // namespace vxpu
