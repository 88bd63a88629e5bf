//===- Json.h - JSON output with bp's number format -------------*- C++ -*-===//
//
// bpc's JSON objects are small and ordered (outputs in declaration order), and their numbers must print in
// shortest round-trip form (-7, not -7.0), so they are written here; nlohmann::json escapes the keys.
// JSON has no NaN or infinity: such a value is written as null and a warning names it on stderr.
//
//===----------------------------------------------------------------------===//
#ifndef BPC_JSON_H
#define BPC_JSON_H

#include "bp/NumberFormat.h"

#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <string>

namespace bpc {

class JsonWriter {
public:
  explicit JsonWriter(llvm::raw_ostream &os) : os(os) {}

  void beginObject(const std::string *key = nullptr) {
    separate(key);
    os << '{';
    first = true;
  }
  void endObject() {
    os << '}';
    first = false;
  }
  void beginArray(const std::string *key = nullptr) {
    separate(key);
    os << '[';
    first = true;
  }
  void endArray() {
    os << ']';
    first = false;
  }
  /// Writes `"name":`; the next value or object is that key's value.
  void key(const std::string &name) {
    separate(&name);
    afterKey = true;
  }
  void number(const std::string &name, double value, const std::string &what) {
    separate(&name);
    write(value, what);
  }
  /// A tensor as nested arrays (`[[1,2],[3,4]]`), a scalar (empty shape) as a number.
  void tensor(const std::string &name, llvm::ArrayRef<double> values, llvm::ArrayRef<int64_t> shape,
              const std::string &what) {
    separate(&name);
    size_t next = 0;
    writeAxis(values, shape, next, what);
  }
  void raw(const std::string &name, const std::string &text) {
    separate(&name);
    os << text;
  }

private:
  void writeAxis(llvm::ArrayRef<double> values, llvm::ArrayRef<int64_t> shape, size_t &next,
                 const std::string &what) {
    if (shape.empty()) {
      write(values[next++], what);
      return;
    }
    os << '[';
    for (int64_t i = 0; i < shape[0]; ++i) {
      if (i)
        os << ',';
      writeAxis(values, shape.drop_front(), next, what);
    }
    os << ']';
  }
  void write(double value, const std::string &what) {
    if (std::isfinite(value)) {
      os << bp::formatNumber(value);
      return;
    }
    os << "null";
    llvm::errs() << "bpc: warning: " << what << " is " << bp::formatNumber(value)
                 << "; JSON has no such number, so it is written as null\n";
  }
  void separate(const std::string *name) {
    if (!first && !afterKey)
      os << ',';
    first = false;
    afterKey = false;
    if (name)
      os << nlohmann::json(*name).dump() << ':';
  }

  llvm::raw_ostream &os;
  bool first = true;
  bool afterKey = false;
};

} // namespace bpc

#endif // BPC_JSON_H
