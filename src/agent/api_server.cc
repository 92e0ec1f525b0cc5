#include "agent/api_server.h"

#include "interposer/slice_ledger.h"

namespace vxpu {
namespace {

constexpr size_t kMaxBody = 64 * 1024;

// Never throws: text that is not UTF-8 (from a path, say) is sent with U+FFFD in its place.
void Reply(httplib::Response& res, const ApiReply& reply) {
  res.status = reply.status;
  res.set_content(reply.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", "application/json");
}

// `text` as it may appear in a one-line message: bytes outside printable ASCII as \xNN.
std::string Printable(const std::string& text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text.substr(0, 256)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out.append("\\x").append(1, kHex[c >> 4]).append(1, kHex[c & 15]);
    }
  }
  return text.size() > 256 ? out + "..." : out;
}

void ReplyError(httplib::Response& res, int status, const std::string& message) {
  Reply(res, ApiReply{status, {{"error", message}}});
}

// The slice name in the path (matches[1]), or empty after answering 400.
std::string SliceName(const httplib::Request& req, httplib::Response& res) {
  std::string name = req.matches[1];
  if (!SliceLedger::ValidSliceName(name)) {
    ReplyError(res, 400, "bad slice name \"" + Printable(name) + "\" (want 1-64 of A-Z a-z 0-9 . _ -)");
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
    std::string message = res.status == 404   ? "no such endpoint: " + Printable(req.method) + " " + Printable(req.path)
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
  bool full = access == ApiAccess::kFull;
  server->Get("/v1/info", [agent, info, full](const httplib::Request&, httplib::Response& res) {
    const AgentOptions& o = agent->options();
    nlohmann::json body = {{"version", info.version},
                           {"sim", info.sim},
                           {"node", info.node},
                           {"context_reserve_bytes", o.context_reserve}};
    if (full) {  // paths on the node are for its own users
      body["state_dir"] = o.state_dir;
      body["socket"] = info.socket;
    }
    Reply(res, ApiReply{200, body});
  });
  server->Get("/v1/devices", [agent](const httplib::Request&, httplib::Response& res) {
    std::string error;
    std::vector<DeviceView> devices = agent->Devices(&error);
    Reply(res, error.empty() ? ApiReply{200, DevicesToJson(devices)} : ApiReply{500, {{"error", error}}});
  });
  if (!full) {
    // Slices name their owners' processes, users and pods: for the node's own users only.
    server->Get(R"(/v1/slices(/.*)?)", [](const httplib::Request&, httplib::Response& res) {
      ReplyError(res, 403, "slices are listed on vxpud's unix socket only (they name processes and users)");
    });
  }
  server->Get("/v1/slices", [agent](const httplib::Request&, httplib::Response& res) {
    std::string error;
    std::vector<SliceView> slices = agent->Slices(&error);
    Reply(res, error.empty() ? ApiReply{200, SlicesToJson(slices)} : ApiReply{500, {{"error", error}}});
  });
  server->Get(R"(/v1/slices/([^/]*))", [agent](const httplib::Request& req, httplib::Response& res) {
    std::string name = SliceName(req, res);
    if (!name.empty()) Reply(res, agent->GetSlice(name));
  });
  if (access == ApiAccess::kReadOnly) {
    auto refuse = [](const httplib::Request& req, httplib::Response& res) {
      ReplyError(
          res, 405,
          Printable(req.method) + " " + Printable(req.path) + ": this endpoint is read-only (use the unix socket)");
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
