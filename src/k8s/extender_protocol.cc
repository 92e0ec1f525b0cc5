#include "k8s/extender_protocol.h"

#include "common/untrusted_json.h"

#include <unordered_map>
#include <utility>

namespace vxpu {
namespace {

using nlohmann::json;
using ordered_json = nlohmann::ordered_json;

// A bad value as an error quotes it (untrusted_json.h).
std::string Shown(const json& value) { return QuotedValue(value); }

// A key as an error path shows it: "[\"odd key\"]"-free, just JSON-escaped without the quotes.
std::string Key(const std::string& key) {
  std::string quoted = Shown(json(key));
  return quoted.size() >= 2 && quoted.front() == '"' && quoted.back() == '"' ? quoted.substr(1, quoted.size() - 2)
                                                                             : quoted;
}

const char* TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "a number";
    default: return "something else";
  }
}

bool Refuse(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

bool WrongType(const std::string& where, const char* want, const json& got, std::string* error) {
  return Refuse(error, where + ": want " + want + ", got " + TypeName(got) + " " + Shown(got));
}

// The member `key` of `object`, or nullptr when it is absent or null.
const json* Member(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

// An optional string member into *out ("" when absent or null).
bool OptionalString(const json& object, const char* key, const std::string& where, std::string* out,
                    std::string* error) {
  const json* v = Member(object, key);
  if (!v) return true;
  if (!v->is_string()) return WrongType(where, "a string", *v, error);
  *out = v->get<std::string>();
  return true;
}

// A Kubernetes name: a non-empty string of at most kExtenderMaxName bytes.
bool Name(const json& v, const std::string& where, std::string* out, std::string* error) {
  if (!v.is_string()) return WrongType(where, "a string", v, error);
  const std::string& s = v.get_ref<const std::string&>();
  if (s.empty()) return Refuse(error, where + ": empty");
  if (s.size() > kExtenderMaxName) {
    return Refuse(error, where + ": " + std::to_string(s.size()) + " bytes long, at most " +
                             std::to_string(kExtenderMaxName) + ": " + Shown(v));
  }
  *out = s;
  return true;
}

// An object of strings (annotations, requests, limits), absent or null meaning empty.
bool StringMap(const json& object, const char* key, const std::string& where, std::map<std::string, std::string>* out,
               std::string* error) {
  const json* v = Member(object, key);
  if (!v) return true;
  if (!v->is_object()) return WrongType(where, "an object", *v, error);
  for (const auto& [k, value] : v->items()) {
    if (!value.is_string()) return WrongType(where + "." + Key(k), "a string", value, error);
    (*out)[k] = value.get<std::string>();
  }
  return true;
}

bool Containers(const json& spec, const char* key, const std::string& where, std::vector<ExtenderContainer>* out,
                std::string* error) {
  const json* list = Member(spec, key);
  if (!list) return true;
  if (!list->is_array()) return WrongType(where, "an array", *list, error);
  for (size_t i = 0; i < list->size(); ++i) {
    const json& c = (*list)[i];
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (!c.is_object()) return WrongType(at, "an object", c, error);
    ExtenderContainer container;
    const json* name = Member(c, "name");
    if (!name) return Refuse(error, at + ".name: missing");
    if (!Name(*name, at + ".name", &container.name, error)) return false;
    if (const json* resources = Member(c, "resources")) {
      if (!resources->is_object()) return WrongType(at + ".resources", "an object", *resources, error);
      if (!StringMap(*resources, "requests", at + ".resources.requests", &container.requests, error)) return false;
      if (!StringMap(*resources, "limits", at + ".resources.limits", &container.limits, error)) return false;
    }
    out->push_back(std::move(container));
  }
  return true;
}

bool ParsePod(const json& pod, ExtenderPod* out, std::string* error) {
  if (!pod.is_object()) return WrongType("Pod", "an object", pod, error);
  const json* metadata = Member(pod, "metadata");
  if (!metadata) return Refuse(error, "Pod.metadata: missing");
  if (!metadata->is_object()) return WrongType("Pod.metadata", "an object", *metadata, error);
  const json* name = Member(*metadata, "name");
  if (!name) return Refuse(error, "Pod.metadata.name: missing");
  if (!Name(*name, "Pod.metadata.name", &out->name, error)) return false;
  if (const json* ns = Member(*metadata, "namespace")) {
    if (!Name(*ns, "Pod.metadata.namespace", &out->namespace_name, error)) return false;
  }
  if (!OptionalString(*metadata, "uid", "Pod.metadata.uid", &out->uid, error)) return false;
  if (!StringMap(*metadata, "annotations", "Pod.metadata.annotations", &out->annotations, error)) return false;
  const json* spec = Member(pod, "spec");
  if (!spec) return true;
  if (!spec->is_object()) return WrongType("Pod.spec", "an object", *spec, error);
  return Containers(*spec, "containers", "Pod.spec.containers", &out->containers, error) &&
         Containers(*spec, "initContainers", "Pod.spec.initContainers", &out->init_containers, error);
}

bool TooManyNodes(const std::string& where, size_t count, std::string* error) {
  return Refuse(error, where + ": " + std::to_string(count) + " nodes, at most " + std::to_string(kExtenderMaxNodes));
}

bool ParseNodeNames(const json& names, ExtenderArgs* out, std::string* error) {
  if (!names.is_array()) return WrongType("NodeNames", "an array", names, error);
  if (names.size() > kExtenderMaxNodes) return TooManyNodes("NodeNames", names.size(), error);
  out->node_names.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    std::string name;
    if (!Name(names[i], "NodeNames[" + std::to_string(i) + "]", &name, error)) return false;
    out->node_names.push_back(std::move(name));
  }
  return true;
}

// Takes the Node objects out of `nodes` (moved, not copied: a request may carry megabytes of them).
bool ParseNodes(json& nodes, ExtenderArgs* out, std::string* error) {
  if (!nodes.is_object()) return WrongType("Nodes", "an object", nodes, error);
  auto found = nodes.find("items");
  if (found == nodes.end() || found->is_null()) return true;  // an empty NodeList
  json* items = &*found;                                      // an empty NodeList
  if (!items->is_array()) return WrongType("Nodes.items", "an array", *items, error);
  if (items->size() > kExtenderMaxNodes) return TooManyNodes("Nodes.items", items->size(), error);
  out->node_names.reserve(items->size());
  out->node_objects.reserve(items->size());
  for (size_t i = 0; i < items->size(); ++i) {
    json& node = (*items)[i];
    const std::string at = "Nodes.items[" + std::to_string(i) + "]";
    if (!node.is_object()) return WrongType(at, "an object", node, error);
    const json* metadata = Member(node, "metadata");
    if (!metadata) return Refuse(error, at + ".metadata: missing");
    if (!metadata->is_object()) return WrongType(at + ".metadata", "an object", *metadata, error);
    const json* name = Member(*metadata, "name");
    if (!name) return Refuse(error, at + ".metadata.name: missing");
    std::string node_name;
    if (!Name(*name, at + ".metadata.name", &node_name, error)) return false;
    out->node_names.push_back(std::move(node_name));
    out->node_objects.push_back(std::move(node));
  }
  return true;
}

// Parses `body` as a JSON object at most kExtenderMaxNesting deep.
bool ParseObject(const std::string& body, const char* what, json* out, std::string* error) {
  *out = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) return Refuse(error, std::string(what) + ": not JSON");
  if (!NestsAtMost(*out, kExtenderMaxNesting)) {
    // Taken apart iteratively: the recursive destructor must not see it either.
    std::vector<json> pending;
    pending.push_back(std::move(*out));
    while (!pending.empty()) {
      json v = std::move(pending.back());
      pending.pop_back();
      if (v.is_structured()) {
        for (json& child : v) {
          if (child.is_structured()) pending.push_back(std::move(child));
        }
      }
    }
    *out = json();
    return Refuse(error, std::string(what) + ": nested deeper than " + std::to_string(kExtenderMaxNesting) + " levels");
  }
  if (!out->is_object()) return Refuse(error, std::string(what) + ": want a JSON object, got " + TypeName(*out));
  return true;
}

}  // namespace

bool ParseExtenderArgs(const std::string& body, ExtenderArgs* out, std::string* error) {
  json j;
  if (!ParseObject(body, "extender args", &j, error)) return false;
  ExtenderArgs args;
  const json* pod = Member(j, "Pod");
  if (!pod) return Refuse(error, "Pod: missing");
  if (!ParsePod(*pod, &args.pod, error)) return false;
  if (const json* names = Member(j, "NodeNames")) {
    args.node_cache_capable = true;
    if (!ParseNodeNames(*names, &args, error)) return false;
  } else if (Member(j, "Nodes")) {
    if (!ParseNodes(j["Nodes"], &args, error)) return false;
  } else {
    return Refuse(error, "Nodes and NodeNames: both null or missing");
  }
  *out = std::move(args);
  return true;
}

ExtenderFilterResult FilterResultFor(const ExtenderArgs& args, const std::vector<std::string>& passing) {
  ExtenderFilterResult result;
  if (args.node_cache_capable) {
    result.node_names = passing;
    return result;
  }
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < args.node_names.size() && i < args.node_objects.size(); ++i) {
    index.emplace(args.node_names[i], i);
  }
  result.nodes.emplace();
  for (const std::string& name : passing) {
    auto it = index.find(name);
    if (it != index.end()) result.nodes->push_back(args.node_objects[it->second]);
  }
  return result;
}

namespace {

// `text` as a JSON string, as nlohmann writes it (UTF-8 kept, invalid bytes replaced). Plain
// printable ASCII, every node name and reason, is copied as is.
void AppendQuoted(std::string* out, const std::string& text) {
  bool plain = true;
  for (char c : text) plain = plain && c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
  if (!plain) {
    *out += json(text).dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
    return;
  }
  out->push_back('"');
  *out += text;
  out->push_back('"');
}

std::string Quoted(const std::string& text) {
  std::string out;
  AppendQuoted(&out, text);
  return out;
}

// A map as a JSON object, keys in the map's (byte) order, as encoding/json sorts them. Written
// directly: an ordered_json looks each key up linearly (quadratic for 1,000 nodes). Equal values
// (the same reason on many nodes) are quoted once.
std::string ObjectOf(const std::map<std::string, std::string>& map) {
  std::string out = "{";
  const std::string* last = nullptr;
  std::string last_quoted;
  for (const auto& [key, value] : map) {
    if (!last || *last != value) last_quoted = Quoted(value);
    last = &value;
    if (out.size() > 1) out.push_back(',');
    AppendQuoted(&out, key);
    out.push_back(':');
    out += last_quoted;
  }
  return out + "}";
}

}  // namespace

std::string FilterResultJson(const ExtenderFilterResult& result) {
  std::string nodes = "null";
  if (result.nodes) {
    // Node objects passed through as they were parsed (std::map-backed: keys sorted, as Go writes them).
    nodes = "{\"metadata\":{},\"items\":[";
    for (size_t i = 0; i < result.nodes->size(); ++i) {
      nodes +=
          (i ? "," : "") + (*result.nodes)[i].dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
    }
    nodes += "]}";
  }
  std::string names = "null";
  if (result.node_names) {
    names = "[";
    for (size_t i = 0; i < result.node_names->size(); ++i) {
      if (i) names.push_back(',');
      AppendQuoted(&names, (*result.node_names)[i]);
    }
    names += "]";
  }
  return "{\"Nodes\":" + nodes + ",\"NodeNames\":" + names + ",\"FailedNodes\":" + ObjectOf(result.failed_nodes) +
         ",\"FailedAndUnresolvableNodes\":" + ObjectOf(result.failed_and_unresolvable_nodes) +
         ",\"Error\":" + Quoted(result.error) + "}";
}

std::string PriorityListJson(const std::vector<HostPriority>& list) {
  std::string out = "[";
  for (size_t i = 0; i < list.size(); ++i) {
    out += i ? ",{\"Host\":" : "{\"Host\":";
    AppendQuoted(&out, list[i].host);
    out += ",\"Score\":" + std::to_string(list[i].score) + "}";
  }
  return out + "]";
}

bool ParseBindingArgs(const std::string& body, ExtenderBindingArgs* out, std::string* error) {
  json j;
  if (!ParseObject(body, "binding args", &j, error)) return false;
  ExtenderBindingArgs args;
  struct Field {
    const char* key;
    std::string* into;
    bool required;
  } fields[] = {{"PodName", &args.pod_name, true},
                {"PodNamespace", &args.pod_namespace, false},
                {"PodUID", &args.pod_uid, false},
                {"Node", &args.node, true}};
  for (const Field& f : fields) {
    auto it = j.find(f.key);
    if (it == j.end()) return Refuse(error, std::string(f.key) + ": missing");
    if (!it->is_string()) return WrongType(f.key, "a string", *it, error);
    if (f.required || !it->get_ref<const std::string&>().empty()) {
      if (!Name(*it, f.key, f.into, error)) return false;
    }
  }
  *out = std::move(args);
  return true;
}

std::string BindingResultJson(const std::string& error) {
  return ordered_json{{"Error", error}}.dump(-1, ' ', /*ensure_ascii=*/false, ordered_json::error_handler_t::replace);
}

}  // namespace vxpu
