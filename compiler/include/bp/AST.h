//===- AST.h - The syntax tree of a .bp script ------------------*- C++ -*-===//
//
// What the parser produces and the graph builder consumes. Operator chains stay flat (a sum of 300,000
// terms is one ChainExpr), so the tree is only as deep as the script's parentheses and calls, and every
// walk over it is bounded by the parser's nesting limit.
//
//===----------------------------------------------------------------------===//
#ifndef BP_AST_H
#define BP_AST_H

#include "bp/Source.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace bp {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

/// A number literal, as written.
struct NumberExpr {
  double value;
};

/// A use of a name: an input, param, node, or (inside a def) one of its parameters.
struct NameExpr {
  std::string name;
};

/// A keyword argument `axis=K` (the only keyword; K an integer literal, sign included).
struct AxisArg {
  int64_t value;
  SourceLoc loc;      // the word 'axis'
  SourceLoc valueLoc; // the integer
};

/// `callee(arg, ..., axis=K)`: a builtin or a def. `loc` of the Expr is the callee's name.
struct CallExpr {
  std::string callee;
  std::vector<ExprPtr> args;   // the positional arguments
  std::optional<AxisArg> axis; // after them, if written
};

/// `base[item, ...]`: indexing. `loc` of the Expr is the '['.
struct IndexExpr {
  /// A slice `lo:hi` with integer literal bounds (sign included), either of them left out.
  struct Slice {
    SourceLoc colonLoc;
    std::optional<int64_t> lo, hi;
    SourceLoc loLoc, hiLoc; // valid where the bound is written
  };
  /// One index: an expression (`index`; a literal one is an integer), or a slice.
  struct Item {
    SourceLoc loc; // its first token
    ExprPtr index; // null for a slice
    std::optional<Slice> slice;
  };
  ExprPtr base;
  std::vector<Item> items;
};

/// The comparisons, which give 1 or 0.
enum class CompareOp { Less, LessEqual, Greater, GreaterEqual, Equal, NotEqual };

/// `lhs op rhs` with a comparison operator; binds looser than '+' and '-', and does not chain.
struct CompareExpr {
  CompareOp op;
  SourceLoc opLoc;
  ExprPtr lhs, rhs;
};

/// `count` unary minuses applied to `operand` (kept as a count so `- - - x` does not nest).
struct NegateExpr {
  unsigned count;
  ExprPtr operand;
};

/// A left-associative chain `first op1 rest1 op2 rest2 ...` of '+'/'-' or of '*'/'/'/'@'.
struct ChainExpr {
  struct Link {
    char op;          // '+', '-', '*', '/' or '@' (matrix product)
    SourceLoc opLoc;  // where the operator is written
    ExprPtr operand;
  };
  ExprPtr first;
  std::vector<Link> rest;
};

/// A right-associative power chain `base ^ e1 ^ e2 ...`; each exponent carries the unary minuses written
/// before it (`2 ^ -x`), which apply to the whole rest of the chain.
struct PowerExpr {
  struct Link {
    SourceLoc opLoc;
    unsigned negations;
    ExprPtr operand;
  };
  ExprPtr base;
  std::vector<Link> exponents;
};

struct Expr {
  using Kind =
      std::variant<NumberExpr, NameExpr, CallExpr, NegateExpr, ChainExpr, PowerExpr, IndexExpr, CompareExpr>;

  Expr(SourceLoc loc, Kind kind) : loc(loc), kind(std::move(kind)) {}
  Expr(const Expr &) = delete;
  Expr &operator=(const Expr &) = delete;
  /// Frees the subtree with a loop, not a recursion: a script may nest expressions deeper than the stack
  /// of whichever thread frees them could recurse.
  ~Expr();

  SourceLoc loc;
  Kind kind;
};

inline Expr::~Expr() {
  std::vector<ExprPtr> pending;
  auto detachChildren = [&pending](Expr &expr) {
    if (auto *call = std::get_if<CallExpr>(&expr.kind))
      for (ExprPtr &arg : call->args)
        pending.push_back(std::move(arg));
    else if (auto *negate = std::get_if<NegateExpr>(&expr.kind))
      pending.push_back(std::move(negate->operand));
    else if (auto *chain = std::get_if<ChainExpr>(&expr.kind)) {
      pending.push_back(std::move(chain->first));
      for (ChainExpr::Link &link : chain->rest)
        pending.push_back(std::move(link.operand));
    } else if (auto *power = std::get_if<PowerExpr>(&expr.kind)) {
      pending.push_back(std::move(power->base));
      for (PowerExpr::Link &link : power->exponents)
        pending.push_back(std::move(link.operand));
    } else if (auto *index = std::get_if<IndexExpr>(&expr.kind)) {
      pending.push_back(std::move(index->base));
      for (IndexExpr::Item &item : index->items)
        pending.push_back(std::move(item.index));
    } else if (auto *compare = std::get_if<CompareExpr>(&expr.kind)) {
      pending.push_back(std::move(compare->lhs));
      pending.push_back(std::move(compare->rhs));
    }
  };
  detachChildren(*this);
  while (!pending.empty()) {
    ExprPtr next = std::move(pending.back());
    pending.pop_back();
    if (next)
      detachChildren(*next); // `next` then dies childless: its own destructor does not recurse
  }
}

/// A declared name and where it is written.
struct Name {
  std::string text;
  SourceLoc loc;
};

/// Where a number is written in the source: its first character and its length (sign included). Scripts
/// that are rewritten with new values (`bpc train --save`) replace exactly this text.
struct ValueSpan {
  SourceLoc loc;       // invalid when the declaration has no value
  uint32_t length = 0;
};

/// A stretch of source text that may span lines: `begin` is its first character, `end` just past its last.
struct SourceRange {
  SourceLoc begin, end;
};

/// The shape of a tensor declaration, `[d1, ..., dk]`: rank 1 to 4, every dimension positive.
struct ShapeDecl {
  SourceLoc loc; // the '['
  std::vector<int64_t> dims;
  std::vector<SourceLoc> dimLocs;
};

/// A tensor's initial value, checked against its declared shape.
struct TensorInit {
  enum Kind { Fill, Literal, Normal, Uniform } kind;
  /// Fill: the one number; Literal: every element, row-major; Normal: {mean, std}; Uniform: {low, high}.
  std::vector<double> values;
  /// The whole initializer as written (a literal may span lines): a later rewrite replaces exactly this.
  SourceRange range;
};

/// What a shaped declaration (`input X[1,3] = [[2, 4, -2]]`) adds to a scalar one.
struct TensorDecl {
  ShapeDecl shape;
  std::optional<TensorInit> init; // absent only on an input without a default
};

struct InputDecl {
  Name name;
  std::optional<double> defaultValue;
  ValueSpan valueSpan; // the default; or, without one, loc is just past the name (or its shape)
  std::optional<TensorDecl> tensor; // a shaped input: its default, if any, is tensor->init
};

struct ParamDecl {
  Name name;
  double initialValue;
  ValueSpan valueSpan;
  std::optional<TensorDecl> tensor; // a shaped param: its value is tensor->init, initialValue is 0
};

struct NodeDecl {
  Name name;
  ExprPtr value;
};

struct OutputDecl {
  std::vector<Name> names;
};

/// `def NAME(P1, ..., Pk) = BODY` or, with its derivative stated, `... = BODY grad D1, ..., Dn`: Di is d BODY / d Pi
/// (the graph builder checks that n is k).
struct DefDecl {
  Name name;
  std::vector<Name> params;
  ExprPtr body;
  std::vector<ExprPtr> partials; // empty without 'grad'
  SourceLoc gradLoc;             // the word 'grad', where written
};

struct Statement {
  SourceLoc loc; // the keyword
  std::variant<InputDecl, ParamDecl, NodeDecl, OutputDecl, DefDecl> kind;
};

/// A parsed script. Statements that had syntax errors are left out; the names they tried to declare are
/// kept in `poisonedNames` so that later uses of them are not reported a second time.
struct Script {
  SourceFileRef file;
  std::vector<Statement> statements;
  std::vector<std::string> poisonedNames;
};

} // namespace bp

#endif // BP_AST_H
