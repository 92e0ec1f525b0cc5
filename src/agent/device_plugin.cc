#include "agent/device_plugin.h"

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

#include "backend/device_backend.h"
#include "k8s/proto/deviceplugin_v1beta1.grpc.pb.h"

namespace vxpu {
namespace {

namespace pb = ::v1beta1;

constexpr char kApiVersion[] = "v1beta1";
constexpr auto kWatchPeriod = std::chrono::milliseconds(250);
constexpr auto kRegisterTimeout = std::chrono::seconds(5);
constexpr int kMaxIdsPerContainer = 1024;  // 102 GPUs' units: more than any node has

// A file's identity: a kubelet.sock made anew is another file.
std::string FileIdentity(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_ctim.tv_sec) + "." +
         std::to_string(st.st_ctim.tv_nsec);
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

pb::ListAndWatchResponse DeviceList(const std::vector<std::pair<DeviceView, GpuUnits>>& units) {
  pb::ListAndWatchResponse out;
  for (const auto& [device, states] : units) {
    for (unsigned u = 0; u < kUnitsPerGpu; ++u) {
      pb::Device* d = out.add_devices();
      d->set_id(UnitIdText(UnitId{device.uuid, u}));
      bool offered = states[u] == UnitState::kFree || states[u] == UnitState::kHeld;
      d->set_health(offered ? "Healthy" : "Unhealthy");
    }
  }
  return out;
}

void FillResponse(const SliceEdits& edits, pb::ContainerAllocateResponse* out) {
  for (const auto& [key, value] : edits.env) (*out->mutable_envs())[key] = value;
  for (const SliceMount& m : edits.mounts) {
    pb::Mount* mount = out->add_mounts();
    mount->set_container_path(m.container_path);
    mount->set_host_path(m.host_path);
    mount->set_read_only(m.read_only);
  }
  for (const DeviceNode& d : edits.devices) {
    pb::DeviceSpec* device = out->add_devices();
    device->set_container_path(d.container_path);
    device->set_host_path(d.host_path);
    device->set_permissions(d.permissions);
  }
}

grpc::Status TooManyIds() {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      "more than " + std::to_string(kMaxIdsPerContainer) + " device IDs in one request");
}

std::vector<std::string> Ids(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  return std::vector<std::string>(ids.begin(), ids.end());
}

}  // namespace

class PluginService final : public pb::DevicePlugin::Service {
 public:
  PluginService(NodeAgent* agent, const DevicePluginOptions& options, NodeAgent::Log log)
      : agent_(agent), options_(options), log_(std::move(log)) {}

  // Ends the ListAndWatch streams (the server's Shutdown waits for them).
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    wake_.notify_all();
  }

  grpc::Status GetDevicePluginOptions(grpc::ServerContext*, const pb::Empty*, pb::DevicePluginOptions* out) override {
    out->set_pre_start_required(false);
    out->set_get_preferred_allocation_available(true);
    return grpc::Status::OK;
  }

  grpc::Status ListAndWatch(grpc::ServerContext* context, const pb::Empty*,
                            grpc::ServerWriter<pb::ListAndWatchResponse>* writer) override {
    std::string sent;
    auto period = std::chrono::duration<double>(options_.poll_seconds);
    for (;;) {
      pb::ListAndWatchResponse list = DeviceList(agent_->Units(options_.kind));
      std::string now = list.SerializeAsString();
      if (now != sent) {
        if (!writer->Write(list)) return grpc::Status::OK;
        sent = now;
      }
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::duration_cast<std::chrono::milliseconds>(period), [this] { return stopping_; });
      if (stopping_ || context->IsCancelled()) return grpc::Status::OK;
    }
  }

  grpc::Status GetPreferredAllocation(grpc::ServerContext*, const pb::PreferredAllocationRequest* request,
                                      pb::PreferredAllocationResponse* out) override {
    std::vector<DeviceView> devices = agent_->Devices();
    for (const pb::ContainerPreferredAllocationRequest& c : request->container_requests()) {
      if (c.available_deviceids_size() > kMaxIdsPerContainer || c.must_include_deviceids_size() > kMaxIdsPerContainer)
        return TooManyIds();
      if (c.allocation_size() < 0 || c.allocation_size() > kMaxIdsPerContainer)
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "allocation_size " + std::to_string(c.allocation_size()) + " is out of range");
      std::vector<std::string> chosen = PreferredUnits(Ids(c.available_deviceids()), Ids(c.must_include_deviceids()),
                                                       static_cast<size_t>(c.allocation_size()), devices);
      pb::ContainerPreferredAllocationResponse* r = out->add_container_responses();
      for (const std::string& id : chosen) r->add_deviceids(id);
    }
    return grpc::Status::OK;
  }

  // The host's device nodes of the slice's devices and their drivers' shared ones, as each
  // vendor's backend names them.
  std::vector<std::string> DeviceNodesOf(const SliceSpec& slice, const std::vector<DeviceView>& devices) const {
    std::map<std::string, std::vector<unsigned>> indices;  // by vendor
    for (const DeviceView& d : devices) {
      for (const std::string& uuid : slice.devices) {
        if (d.uuid == uuid) indices[d.vendor].push_back(d.index);
      }
    }
    std::vector<std::string> nodes;
    for (const auto& [vendor, of_vendor] : indices) {
      std::unique_ptr<DeviceBackend> backend = MakeBackend(vendor, false);
      if (!backend) continue;
      for (const std::string& node : backend->DeviceNodes(of_vendor, options_.paths.dev_dir, Exists))
        nodes.push_back(node);
    }
    return nodes;
  }

  grpc::Status Allocate(grpc::ServerContext*, const pb::AllocateRequest* request, pb::AllocateResponse* out) override {
    std::vector<DeviceView> devices = agent_->Devices();  // for the device nodes: allocating does not change them
    for (const pb::ContainerAllocateRequest& c : request->container_requests()) {
      if (c.devices_ids_size() > kMaxIdsPerContainer) return TooManyIds();
      std::string error;
      std::optional<SliceSpec> slice = agent_->AllocateUnits(Ids(c.devices_ids()), options_.kind, &error);
      if (!slice) {
        log_("Allocate refused: " + error);
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, error);
      }
      FillResponse(ContainerEditsFor(*slice, DeviceNodesOf(*slice, devices), options_.paths),
                   out->add_container_responses());
    }
    return grpc::Status::OK;
  }

  grpc::Status PreStartContainer(grpc::ServerContext*, const pb::PreStartContainerRequest*,
                                 pb::PreStartContainerResponse*) override {
    return grpc::Status::OK;
  }

 private:
  NodeAgent* agent_;
  DevicePluginOptions options_;
  NodeAgent::Log log_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

DevicePlugin::DevicePlugin(NodeAgent* agent, DevicePluginOptions options, NodeAgent::Log log)
    : agent_(agent),
      options_(std::move(options)),
      log_(std::move(log)),
      resource_(UnitsResourceOf(options_.kind.c_str())),
      socket_(options_.dir + "/" + SocketName(options_.kind)),
      kubelet_socket_(options_.dir + "/kubelet.sock") {}

std::unique_ptr<DevicePlugin> DevicePlugin::Start(NodeAgent* agent, const DevicePluginOptions& options,
                                                  NodeAgent::Log log) {
  std::unique_ptr<DevicePlugin> plugin(new DevicePlugin(agent, options, std::move(log)));
  plugin->watcher_ = std::thread([p = plugin.get()] { p->Watch(); });
  return plugin;
}

DevicePlugin::~DevicePlugin() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    wake_.notify_all();
  }
  watcher_.join();
  StopServing();
}

void DevicePlugin::Watch() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    if (server_ && !Exists(socket_)) {
      log_("device plugin: " + socket_ + " was removed (kubelet restarted?): serving anew");
      StopServing();
    }
    if (!server_ && Serve()) registered_with_.clear();
    std::string kubelet = FileIdentity(kubelet_socket_);
    if (server_ && !kubelet.empty() && kubelet != registered_with_ && Register()) registered_with_ = kubelet;
    if (std::chrono::steady_clock::now() >= next_pod_resources_read_) ReadPodResources();
    lock.lock();
    wake_.wait_for(lock, kWatchPeriod, [this] { return stopping_; });
  }
}

bool DevicePlugin::Serve() {
  unlink(socket_.c_str());
  service_ = std::make_unique<PluginService>(agent_, options_, log_);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (!server_) {
    std::string failure = "device plugin: cannot serve on " + socket_;
    if (failure != last_failure_) log_(failure);
    last_failure_ = failure;
    service_.reset();
    return false;
  }
  log_("device plugin: serving " + resource_ + " on " + socket_);
  return true;
}

void DevicePlugin::StopServing() {
  if (!server_) return;
  service_->Stop();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_.reset();
  service_.reset();
  unlink(socket_.c_str());
}

void DevicePlugin::ReadPodResources() {
  next_pod_resources_read_ =
      std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                             std::chrono::duration<double>(options_.poll_seconds));
  std::string error;
  std::optional<std::vector<ContainerUnits>> holders;
  if (!Exists(options_.pod_resources_socket)) {
    error = "no kubelet pod resources socket " + options_.pod_resources_socket +
            ": the slices of ended containers stay until kubelet hands their units out again";
  } else {
    holders = ListContainerUnits(options_.pod_resources_socket, resource_, &error);
  }
  if (!holders) {
    if (error != last_pod_resources_failure_) log_("device plugin: " + error);
    last_pod_resources_failure_ = error;
    return;
  }
  last_pod_resources_failure_.clear();
  agent_->ReconcileWithKubelet(*holders, options_.kind, static_cast<int64_t>(std::time(nullptr)));
}

bool DevicePlugin::Register() {
  auto channel = grpc::CreateChannel("unix:" + kubelet_socket_, grpc::InsecureChannelCredentials());
  auto stub = pb::Registration::NewStub(channel);
  pb::RegisterRequest request;
  request.set_version(kApiVersion);
  request.set_endpoint(SocketName(options_.kind));
  request.set_resource_name(resource_);
  request.mutable_options()->set_get_preferred_allocation_available(true);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kRegisterTimeout);
  pb::Empty reply;
  grpc::Status status = stub->Register(&context, request, &reply);
  if (!status.ok()) {
    std::string failure = "device plugin: registering on " + kubelet_socket_ + " failed: " + status.error_message();
    if (failure != last_failure_) log_(failure);
    last_failure_ = failure;
    return false;
  }
  last_failure_.clear();
  log_("device plugin: registered " + resource_ + " with kubelet (" + kubelet_socket_ + ")");
  return true;
}

}  // namespace vxpu
