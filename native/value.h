// A small JSON-like value built on worker threads and converted to JavaScript on the JS
// thread, so no napi value is ever touched off the JS thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace engine {

class Value {
 public:
  enum class Kind { Null, Bool, Number, String, Array, Object, Numbers, Bytes };

  Value() = default;
  Value(bool b) : kind_(Kind::Bool), bool_(b) {}
  Value(double d) : kind_(Kind::Number), num_(d) {}
  Value(int i) : kind_(Kind::Number), num_(i) {}
  Value(long long i) : kind_(Kind::Number), num_(static_cast<double>(i)) {}
  Value(const char* s) : kind_(Kind::String), str_(s) {}
  Value(std::string s) : kind_(Kind::String), str_(std::move(s)) {}
  Value(std::vector<double> nums) : kind_(Kind::Numbers), nums_(std::move(nums)) {}

  static Value object() { Value v; v.kind_ = Kind::Object; return v; }
  static Value array() { Value v; v.kind_ = Kind::Array; return v; }
  static Value bytes(std::vector<uint8_t> data) {
    Value v;
    v.kind_ = Kind::Bytes;
    v.bytes_ = std::make_shared<std::vector<uint8_t>>(std::move(data));
    return v;
  }

  Value& set(const std::string& key, Value v) {
    fields_.emplace_back(key, std::move(v));
    return *this;
  }
  Value& push(Value v) {
    items_.push_back(std::move(v));
    return *this;
  }

  Kind kind() const { return kind_; }
  bool asBool() const { return bool_; }
  double asNumber() const { return num_; }
  const std::string& asString() const { return str_; }
  const std::vector<Value>& items() const { return items_; }
  const std::vector<std::pair<std::string, Value>>& fields() const { return fields_; }
  const std::vector<double>& numbers() const { return nums_; }
  const std::shared_ptr<std::vector<uint8_t>>& byteData() const { return bytes_; }

 private:
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  double num_ = 0;
  std::string str_;
  std::vector<Value> items_;
  std::vector<std::pair<std::string, Value>> fields_;
  std::vector<double> nums_;
  std::shared_ptr<std::vector<uint8_t>> bytes_;
};

}  // namespace engine
