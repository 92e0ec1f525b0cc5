#include "test_kubelet.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

namespace testkubelet {

namespace pb = ::v1beta1;

class RegistrationService final : public pb::Registration::Service {
 public:
  grpc::Status Register(grpc::ServerContext*, const pb::RegisterRequest* request, pb::Empty*) override {
    std::string why;
    const std::string& name = request->resource_name();
    if (request->version() != "v1beta1") why = "unsupported version \"" + request->version() + "\"";
    if (name.find('/') == std::string::npos || name.size() > 63 + 254) why = "bad resource name \"" + name + "\"";
    if (request->endpoint().empty() || request->endpoint().find('/') != std::string::npos)
      why = "bad endpoint \"" + request->endpoint() + "\"";
    std::lock_guard<std::mutex> lock(mu);
    if (!why.empty()) {
      refusals.push_back(why);
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why);
    }
    accepted.push_back(*request);
    changed.notify_all();
    return grpc::Status::OK;
  }

  std::mutex mu;
  std::condition_variable changed;
  std::vector<pb::RegisterRequest> accepted;
  std::vector<std::string> refusals;
};

class PodResourcesService final : public ::v1::PodResourcesLister::Service {
 public:
  grpc::Status List(grpc::ServerContext*, const ::v1::ListPodResourcesRequest*,
                    ::v1::ListPodResourcesResponse* out) override {
    std::lock_guard<std::mutex> lock(mu);
    for (const HeldDevices& h : held) {
      ::v1::PodResources* pod = out->add_pod_resources();
      pod->set_namespace_(h.pod_namespace);
      pod->set_name(h.pod);
      ::v1::ContainerResources* c = pod->add_containers();
      c->set_name(h.container);
      ::v1::ContainerDevices* d = c->add_devices();
      d->set_resource_name(h.resource);
      for (const std::string& id : h.ids) d->add_device_ids(id);
    }
    return grpc::Status::OK;
  }

  std::mutex mu;
  std::vector<HeldDevices> held;
};

TestKubelet::TestKubelet(std::string dir, std::string pod_resources_socket)
    : dir_(std::move(dir)),
      pod_resources_socket_(std::move(pod_resources_socket)),
      service_(std::make_unique<RegistrationService>()),
      pod_resources_(std::make_unique<PodResourcesService>()) {}

void TestKubelet::SetHeld(std::vector<HeldDevices> held) {
  std::lock_guard<std::mutex> lock(pod_resources_->mu);
  pod_resources_->held = std::move(held);
}

TestKubelet::~TestKubelet() { Stop(); }

bool TestKubelet::Start() {
  std::string socket = dir_ + "/kubelet.sock";
  unlink(socket.c_str());
  unlink(pod_resources_socket_.c_str());
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
  builder.AddListeningPort("unix:" + pod_resources_socket_, grpc::InsecureServerCredentials());
  builder.RegisterService(service_.get());
  builder.RegisterService(pod_resources_.get());
  server_ = builder.BuildAndStart();
  return server_ != nullptr;
}

void TestKubelet::Stop() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_.reset();
}

bool TestKubelet::Restart(bool delete_plugin_sockets) {
  Stop();
  if (!delete_plugin_sockets) return Start();
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) return false;
  while (dirent* e = readdir(d)) {
    std::string path = dir_ + "/" + e->d_name;
    struct stat st;
    if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path.c_str());
  }
  closedir(d);
  return Start();
}

std::vector<pb::RegisterRequest> TestKubelet::registrations() {
  std::lock_guard<std::mutex> lock(service_->mu);
  return service_->accepted;
}

std::vector<std::string> TestKubelet::refusals() {
  std::lock_guard<std::mutex> lock(service_->mu);
  return service_->refusals;
}

bool TestKubelet::WaitForRegistrations(size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(service_->mu);
  return service_->changed.wait_for(lock, timeout, [&] { return service_->accepted.size() >= count; });
}

PluginClient::PluginClient(const std::string& socket)
    : stub_(pb::DevicePlugin::NewStub(grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()))) {}

PluginClient::~PluginClient() {
  if (watch_context_) watch_context_->TryCancel();
  if (watcher_.joinable()) watcher_.join();
}

grpc::Status PluginClient::Options(pb::DevicePluginOptions* out) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return stub_->GetDevicePluginOptions(&context, pb::Empty(), out);
}

void PluginClient::Watch() {
  watch_context_ = std::make_unique<grpc::ClientContext>();
  watcher_ = std::thread([this] {
    auto reader = stub_->ListAndWatch(watch_context_.get(), pb::Empty());
    pb::ListAndWatchResponse list;
    while (reader->Read(&list)) {
      std::lock_guard<std::mutex> lock(mu_);
      latest_.clear();
      for (const pb::Device& d : list.devices()) latest_[d.id()] = d.health();
      ++lists_;
      changed_.notify_all();
    }
    reader->Finish();
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    changed_.notify_all();
  });
}

bool PluginClient::WaitForList(const std::function<bool(const std::map<std::string, std::string>&)>& condition,
                               std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return lists_ > 0 && condition(latest_); });
}

std::map<std::string, std::string> PluginClient::latest() {
  std::lock_guard<std::mutex> lock(mu_);
  return latest_;
}

size_t PluginClient::lists_received() {
  std::lock_guard<std::mutex> lock(mu_);
  return lists_;
}

bool PluginClient::watch_ended() {
  std::lock_guard<std::mutex> lock(mu_);
  return ended_;
}

grpc::Status PluginClient::Preferred(const std::vector<std::string>& available,
                                     const std::vector<std::string>& must_include, int size,
                                     std::vector<std::string>* out) {
  pb::PreferredAllocationRequest request;
  pb::ContainerPreferredAllocationRequest* c = request.add_container_requests();
  for (const std::string& id : available) c->add_available_deviceids(id);
  for (const std::string& id : must_include) c->add_must_include_deviceids(id);
  c->set_allocation_size(size);
  pb::PreferredAllocationResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Status status = stub_->GetPreferredAllocation(&context, request, &response);
  if (status.ok() && response.container_responses_size() == 1) {
    const auto& ids = response.container_responses(0).deviceids();
    out->assign(ids.begin(), ids.end());
  }
  return status;
}

grpc::Status PluginClient::Allocate(const std::vector<std::vector<std::string>>& containers,
                                    pb::AllocateResponse* out) {
  pb::AllocateRequest request;
  for (const auto& ids : containers) {
    pb::ContainerAllocateRequest* c = request.add_container_requests();
    for (const std::string& id : ids) c->add_devices_ids(id);
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return stub_->Allocate(&context, request, out);
}

}  // namespace testkubelet
