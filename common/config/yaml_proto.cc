#include "common/config/yaml_proto.h"

#include <google/protobuf/descriptor.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace agentcom::config {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

absl::Status Invalid(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(path.empty() ? "<top level>" : path, ": ", what));
}

absl::Status FillMessage(const YAML::Node& node, const std::string& path,
                         Message* message);

const EnumValueDescriptor* FindEnumValue(const EnumDescriptor* type,
                                         std::string text) {
  if (const auto* v = type->FindValueByName(text)) return v;
  std::string upper = absl::AsciiStrToUpper(text);
  if (const auto* v = type->FindValueByName(upper)) return v;
  // DURABILITY_SYNC may be written "sync": the prefix is the enum's name in
  // UPPER_SNAKE_CASE, which is how every enum in our protos is spelled.
  std::string prefix;
  for (char c : std::string(type->name())) {
    if (absl::ascii_isupper(c) && !prefix.empty()) prefix.push_back('_');
    prefix.push_back(absl::ascii_toupper(c));
  }
  return type->FindValueByName(absl::StrCat(prefix, "_", upper));
}

// Sets one scalar (or one element of a repeated scalar field).
absl::Status SetScalar(const YAML::Node& node, const std::string& path,
                       const FieldDescriptor* field, Message* message) {
  if (!node.IsScalar()) return Invalid(path, "expected a single value");
  const Reflection* r = message->GetReflection();
  const std::string text = node.Scalar();
  const bool repeated = field->is_repeated();
  auto out_of_range = [&] { return Invalid(path, absl::StrCat("'", text, "' is not a valid ", field->type_name())); };

  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      repeated ? r->AddString(message, field, text)
               : r->SetString(message, field, text);
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v;
      if (!absl::SimpleAtob(text, &v)) return out_of_range();
      repeated ? r->AddBool(message, field, v) : r->SetBool(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v;
      if (!absl::SimpleAtoi(text, &v)) return out_of_range();
      repeated ? r->AddInt32(message, field, v) : r->SetInt32(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!absl::SimpleAtoi(text, &v)) return out_of_range();
      repeated ? r->AddInt64(message, field, v) : r->SetInt64(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v;
      if (text.empty() || text[0] == '-' || !absl::SimpleAtoi(text, &v)) {
        return out_of_range();
      }
      repeated ? r->AddUInt32(message, field, v)
               : r->SetUInt32(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (text.empty() || text[0] == '-' || !absl::SimpleAtoi(text, &v)) {
        return out_of_range();
      }
      repeated ? r->AddUInt64(message, field, v)
               : r->SetUInt64(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v;
      if (!absl::SimpleAtod(text, &v)) return out_of_range();
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
        repeated ? r->AddFloat(message, field, static_cast<float>(v))
                 : r->SetFloat(message, field, static_cast<float>(v));
      } else {
        repeated ? r->AddDouble(message, field, v)
                 : r->SetDouble(message, field, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const EnumValueDescriptor* v = FindEnumValue(field->enum_type(), text);
      if (v == nullptr || v->number() == 0) {
        std::string allowed;
        for (int i = 1; i < field->enum_type()->value_count(); ++i) {
          absl::StrAppend(&allowed, i > 1 ? ", " : "",
                          field->enum_type()->value(i)->name());
        }
        return Invalid(path, absl::StrCat("'", text, "' is not one of ", allowed));
      }
      repeated ? r->AddEnum(message, field, v) : r->SetEnum(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;
  }
  return Invalid(path, "unsupported field type");
}

absl::Status SetField(const YAML::Node& node, const std::string& path,
                      const FieldDescriptor* field, Message* message) {
  const Reflection* r = message->GetReflection();
  if (field->is_map()) return Invalid(path, "map fields are not supported");
  if (field->is_repeated()) {
    if (node.IsNull()) return absl::OkStatus();
    if (!node.IsSequence()) return Invalid(path, "expected a list");
    for (size_t i = 0; i < node.size(); ++i) {
      std::string item_path = absl::StrCat(path, "[", i, "]");
      absl::Status s =
          field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE
              ? FillMessage(node[i], item_path, r->AddMessage(message, field))
              : SetScalar(node[i], item_path, field, message);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    if (node.IsNull()) {
      r->MutableMessage(message, field);
      return absl::OkStatus();
    }
    return FillMessage(node, path, r->MutableMessage(message, field));
  }
  return SetScalar(node, path, field, message);
}

absl::Status FillMessage(const YAML::Node& node, const std::string& path,
                         Message* message) {
  if (!node.IsMap()) return Invalid(path, "expected a mapping of keys to values");
  const Descriptor* d = message->GetDescriptor();
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) return Invalid(path, "keys must be plain words");
    const std::string key = kv.first.Scalar();
    const std::string key_path = path.empty() ? key : absl::StrCat(path, ".", key);
    const FieldDescriptor* field = d->FindFieldByName(key);
    if (field == nullptr) return Invalid(key_path, "unknown key");
    if (absl::Status s = SetField(kv.second, key_path, field, message); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseYamlToProto(absl::string_view yaml, Message* message) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid YAML: line ", e.mark.line + 1, ", column ",
                     e.mark.column + 1, ": ", e.msg));
  }
  if (root.IsNull()) return absl::InvalidArgumentError("the file is empty");
  return FillMessage(root, "", message);
}

}  // namespace agentcom::config
