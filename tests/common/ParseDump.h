//===- ParseDump.h - A parsed script as text, every field and location -----===//
//
// parseScript reads common statements with a reader of its own and the rest with ANTLR's parser
// (ParseMode::AntlrOnly reads all with ANTLR). ParseModeTest and the fuzz target compare the two through this
// dump of the tree and the diagnostics.
//
//===----------------------------------------------------------------------===//
#ifndef BP_TEST_PARSE_DUMP_H
#define BP_TEST_PARSE_DUMP_H

#include "bp/Diagnostics.h"
#include "bp/Parser.h"

#include <cstdio>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <type_traits>
#include <variant>

namespace bp::test {
namespace detail {

inline std::string at(SourceLoc loc) { return "@" + std::to_string(loc.line) + ":" + std::to_string(loc.column); }

inline void dump(std::ostream &os, const Expr *expr) {
  if (!expr) {
    os << "null";
    return;
  }
  os << "(" << at(expr->loc) << " ";
  std::visit(
      [&](const auto &kind) {
        using T = std::decay_t<decltype(kind)>;
        if constexpr (std::is_same_v<T, NumberExpr>) {
          char bits[32];
          snprintf(bits, sizeof bits, "%a", kind.value);
          os << "num " << bits;
        } else if constexpr (std::is_same_v<T, NameExpr>) {
          os << "name " << kind.name;
        } else if constexpr (std::is_same_v<T, CallExpr>) {
          os << "call " << kind.callee;
          for (const ExprPtr &arg : kind.args)
            dump(os << " ", arg.get());
          if (kind.axis)
            os << " axis=" << kind.axis->value << at(kind.axis->loc) << at(kind.axis->valueLoc);
        } else if constexpr (std::is_same_v<T, NegateExpr>) {
          dump(os << "neg" << kind.count << " ", kind.operand.get());
        } else if constexpr (std::is_same_v<T, ChainExpr>) {
          dump(os << "chain ", kind.first.get());
          for (const ChainExpr::Link &link : kind.rest)
            dump(os << " " << link.op << at(link.opLoc) << " ", link.operand.get());
        } else if constexpr (std::is_same_v<T, PowerExpr>) {
          dump(os << "pow ", kind.base.get());
          for (const PowerExpr::Link &link : kind.exponents)
            dump(os << " ^" << at(link.opLoc) << "-" << link.negations << " ", link.operand.get());
        } else if constexpr (std::is_same_v<T, IndexExpr>) {
          dump(os << "index ", kind.base.get());
          for (const IndexExpr::Item &item : kind.items) {
            dump(os << " [" << at(item.loc) << " ", item.index.get());
            if (item.slice)
              os << " slice" << at(item.slice->colonLoc) << kind.items.size() << ":" << item.slice->lo.value_or(-1)
                 << at(item.slice->loLoc) << ":" << item.slice->hi.value_or(-1) << at(item.slice->hiLoc);
            os << "]";
          }
        } else {
          dump(os << "cmp" << static_cast<int>(kind.op) << at(kind.opLoc) << " ", kind.lhs.get());
          dump(os << " ", kind.rhs.get());
        }
      },
      expr->kind);
  os << ")";
}

inline std::ostream &operator<<(std::ostream &os, const Name &name) { return os << name.text << at(name.loc); }
inline std::ostream &operator<<(std::ostream &os, const ValueSpan &span) {
  return os << "span" << at(span.loc) << "+" << span.length;
}

inline void dump(std::ostream &os, const std::optional<TensorDecl> &tensor) {
  if (!tensor)
    return;
  os << " shape" << at(tensor->shape.loc);
  for (size_t i = 0; i < tensor->shape.dims.size(); ++i)
    os << " " << tensor->shape.dims[i] << at(tensor->shape.dimLocs[i]);
  if (const std::optional<TensorInit> &init = tensor->init) {
    os << " init" << init->kind << at(init->range.begin) << at(init->range.end);
    for (double value : init->values)
      os << " " << value;
  }
}

} // namespace detail

/// Every field of every statement parsed from `file` in `mode`, the poisoned names, and the diagnostics, as text:
/// two parses gave the same tree and the same diagnostics exactly when their dumps are equal.
inline std::string dumpParse(const SourceFileRef &file, ParseMode mode) {
  using namespace detail;
  DiagnosticEngine diags(file);
  Script script = parseScript(file, diags, mode);
  std::ostringstream os;
  for (const Statement &statement : script.statements) {
    os << at(statement.loc) << " ";
    std::visit(
        [&](const auto &decl) {
          using T = std::decay_t<decltype(decl)>;
          if constexpr (std::is_same_v<T, InputDecl>) {
            os << "input " << decl.name << " " << decl.valueSpan << " " << decl.defaultValue.value_or(-7.5);
            dump(os, decl.tensor);
          } else if constexpr (std::is_same_v<T, ParamDecl>) {
            os << "param " << decl.name << " " << decl.valueSpan << " " << decl.initialValue;
            dump(os, decl.tensor);
          } else if constexpr (std::is_same_v<T, NodeDecl>) {
            dump(os << "node " << decl.name << " ", decl.value.get());
          } else if constexpr (std::is_same_v<T, OutputDecl>) {
            os << "output";
            for (const Name &name : decl.names)
              os << " " << name;
          } else {
            os << "def " << decl.name << at(decl.gradLoc);
            for (const Name &param : decl.params)
              os << " " << param;
            dump(os << " = ", decl.body.get());
            for (const ExprPtr &partial : decl.partials)
              dump(os << " grad ", partial.get());
          }
        },
        statement.kind);
    os << "\n";
  }
  for (const std::string &name : script.poisonedNames)
    os << "poisoned " << name << "\n";
  if (llvm::Error err = diags.takeError())
    os << llvm::toString(std::move(err));
  return os.str();
}


} // namespace bp::test

#endif // BP_TEST_PARSE_DUMP_H
