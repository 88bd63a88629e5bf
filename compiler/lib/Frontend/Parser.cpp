//===- Parser.cpp - ANTLR parse tree to syntax tree ------------------------===//
//
// Owns everything between the script's text and the AST: lexing by grammar/BP.g4's lexer rules (ScriptLexer,
// which makes the tokens ANTLR's generated lexer makes, without its overhead), parsing one statement at a
// time (the common statements straight from their tokens, FastStatementParser; the rest, and every statement
// with an error, with ANTLR's generated parser), turning ANTLR's syntax errors into messages a user
// understands, and converting parse trees into bp::Script.
//
//===----------------------------------------------------------------------===//
#include "bp/Parser.h"
#include "bp/LargeStack.h"
#include "bp/PhaseTimes.h"
#include "bp/Ops.h"

#include "BPLexer.h"
#include "BPParser.h"
#include "antlr4-runtime.h"

#include "llvm/ADT/StringExtras.h"

#include <cerrno>
#include <memory>
#include <cmath>
#include <cstdlib>

using namespace bp;
using bpgen::BPLexer;
using bpgen::BPParser;

namespace {

SourceLoc locOf(const antlr4::Token *token) {
  return {static_cast<uint32_t>(token->getLine()),
          static_cast<uint32_t>(token->getCharPositionInLine() + 1)};
}

bool isStatementEnd(size_t type) {
  return type == BPLexer::NEWLINE || type == BPLexer::SEMI || type == antlr4::Token::EOF;
}

bool isKeyword(size_t type) {
  return type == BPLexer::INPUT || type == BPLexer::PARAM || type == BPLexer::NODE ||
         type == BPLexer::OUTPUT || type == BPLexer::DEF;
}

/// Encodes one code point as UTF-8 (for quoting an unexpected character back to the user).
std::string encodeUtf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

/// The first code point of valid UTF-8 text (the source was checked before lexing).
uint32_t firstCodePoint(const std::string &text) {
  if (text.empty())
    return 0;
  auto byte = [&](size_t i) { return i < text.size() ? static_cast<unsigned char>(text[i]) & 0x3Fu : 0u; };
  unsigned char lead = static_cast<unsigned char>(text[0]);
  if (lead < 0x80)
    return lead;
  if ((lead & 0xE0) == 0xC0)
    return ((lead & 0x1Fu) << 6) | byte(1);
  if ((lead & 0xF0) == 0xE0)
    return ((lead & 0x0Fu) << 12) | (byte(1) << 6) | byte(2);
  return ((lead & 0x07u) << 18) | (byte(1) << 12) | (byte(2) << 6) | byte(3);
}

/// How a token is named in "found ..." parts of messages.
std::string describeToken(const antlr4::Token *token) {
  std::string text = token->getText();
  if (text.size() > 40)
    text = text.substr(0, 37) + "...";
  switch (token->getType()) {
  case antlr4::Token::EOF:
    return "end of file";
  case BPLexer::NEWLINE:
    return "end of line";
  case BPLexer::ID:
    return "name '" + text + "'";
  case BPLexer::NUMBER:
    return "number '" + text + "'";
  default:
    if (isKeyword(token->getType()) || token->getType() == BPLexer::GRAD)
      return "keyword '" + text + "'";
    return "'" + text + "'";
  }
}

/// The token type of a literal token of the grammar ("'('"), or 0.
size_t literalType(const antlr4::dfa::Vocabulary &vocab, std::string_view literal) {
  for (size_t type = 1; type <= vocab.getMaxTokenType(); ++type)
    if (vocab.getLiteralName(type) == literal)
      return type;
  return 0;
}

/// Words for the set of tokens the parser would have accepted: groups such as "an expression" instead of
/// a raw list of token names.
std::string describeExpected(const antlr4::misc::IntervalSet &expected, const antlr4::dfa::Vocabulary &vocab) {
  auto has = [&](size_t type) { return type != 0 && expected.contains(type); };
  std::vector<std::string> parts;
  std::vector<size_t> covered;
  auto cover = [&](std::initializer_list<size_t> types, const char *words) {
    parts.push_back(words);
    covered.insert(covered.end(), types);
  };
  auto type = [&](std::string_view literal) { return literalType(vocab, literal); };
  size_t minus = type("'-'"), plus = type("'+'"), star = type("'*'"), slash = type("'/'"), caret = type("'^'");
  size_t lparen = type("'('"), lbracket = type("'['"), equals = type("'='"), at = type("'@'");
  if (has(BPLexer::INPUT) && has(BPLexer::PARAM) && has(BPLexer::NODE) && has(BPLexer::OUTPUT) &&
      has(BPLexer::DEF) && !has(BPLexer::ID))
    cover({BPLexer::INPUT, BPLexer::PARAM, BPLexer::NODE, BPLexer::OUTPUT, BPLexer::DEF},
          "a statement ('input', 'param', 'node', 'output' or 'def')");
  if (has(BPLexer::NUMBER) && has(BPLexer::ID) && has(lparen))
    cover({BPLexer::NUMBER, BPLexer::ID, lparen, minus}, "an expression");
  else if (has(BPLexer::NUMBER) && has(BPLexer::ID) && has(lbracket))
    cover({BPLexer::NUMBER, BPLexer::ID, lbracket, minus, plus},
          "a number, a '[...]' literal, normal(MEAN, STD) or uniform(LOW, HIGH)");
  else if (has(BPLexer::ID))
    cover({BPLexer::ID, BPLexer::INPUT, BPLexer::PARAM, BPLexer::NODE, BPLexer::OUTPUT, BPLexer::DEF},
          "a name");
  if (has(BPLexer::NUMBER) && !has(BPLexer::ID))
    cover({BPLexer::NUMBER, minus, plus}, "a number");
  if (has(plus) && has(minus) && has(star) && has(slash))
    cover({plus, minus, star, slash, caret, at, type("'<'"), type("'<='"), type("'>'"), type("'>='"), type("'=='"),
           type("'!='")},
          "an operator");
  bool endsStatement = has(BPLexer::NEWLINE) || has(BPLexer::SEMI) || has(antlr4::Token::EOF);
  for (ssize_t type : expected.toList()) {
    if (type <= 0 || std::find(covered.begin(), covered.end(), static_cast<size_t>(type)) != covered.end())
      continue;
    if (isStatementEnd(type))
      continue;
    if (static_cast<size_t>(type) == equals && expected.size() == 1)
      parts.push_back("'='");
    else
      parts.push_back(vocab.getLiteralName(type).empty() ? vocab.getSymbolicName(type)
                                                         : vocab.getLiteralName(type));
  }
  if (endsStatement)
    parts.push_back("end of statement");
  if (parts.empty())
    return "something else";
  std::string words = parts[0];
  for (size_t i = 1; i < parts.size(); ++i)
    words += (i + 1 == parts.size() ? " or " : ", ") + parts[i];
  return words;
}

/// Whether a call of `callee` may take `axis=`: the reductions, max and min, argmax and the softmax family.
bool takesAxisArgument(std::string_view callee) {
  std::optional<OpKind> op = lookupBuiltin(callee);
  return op && (takesAxis(*op) || *op == OpKind::Max || *op == OpKind::Min);
}

ExprPtr makeExpr(SourceLoc loc, Expr::Kind kind) { return std::make_unique<Expr>(loc, std::move(kind)); }

/// A binary operator of an expression's flat list. Operators bind in three levels: comparisons, then '+' '-',
/// then '*' '/' '@'.
struct BinaryOp {
  enum Level { Comparison, Sum, Product } level;
  char symbol;       // a chain's operator: '+', '-', '*', '/' or '@'
  CompareOp compare; // a comparison's
  SourceLoc loc;
};

/// The operator written `text` (one of the grammar's binary operators) at `loc`.
BinaryOp binaryOp(std::string_view text, SourceLoc loc) {
  switch (text[0]) {
  case '*':
  case '/':
  case '@':
    return {BinaryOp::Product, text[0], CompareOp::Equal, loc};
  case '+':
  case '-':
    return {BinaryOp::Sum, text[0], CompareOp::Equal, loc};
  default:
    break;
  }
  CompareOp compare = text == "<"    ? CompareOp::Less
                      : text == "<=" ? CompareOp::LessEqual
                      : text == ">"  ? CompareOp::Greater
                      : text == ">=" ? CompareOp::GreaterEqual
                      : text == "==" ? CompareOp::Equal
                                     : CompareOp::NotEqual;
  assert((text == "!=" || compare != CompareOp::NotEqual) && "the grammar has no other comparison");
  return {BinaryOp::Comparison, 0, compare, loc};
}

constexpr const char *ChainedComparison =
    "comparisons do not chain; parenthesize one, as in (a < b) == c, or multiply two: (a < b) * (b < c)";

/// Applies precedence to an expression's flat list of operands and operators (`ops[i]` stands between
/// operands i and i + 1; `operand(i)` converts operand i, called in order): each maximal run of '*', '/' and
/// '@' becomes one product chain, the products form a sum chain, and two sums may be compared. A second
/// comparison is passed to `chained`.
template <typename Operand, typename Chained>
ExprPtr applyPrecedence(llvm::ArrayRef<BinaryOp> ops, Operand operand, Chained chained) {
  size_t next = 0;
  size_t count = ops.size() + 1;
  auto atLevel = [&](BinaryOp::Level level) { return next < count && ops[next - 1].level == level; };
  auto chain = [&](BinaryOp::Level level, auto operand) {
    ExprPtr first = operand();
    if (!atLevel(level))
      return first;
    ChainExpr chain{std::move(first), {}};
    while (atLevel(level)) {
      const BinaryOp &op = ops[next - 1];
      ExprPtr rhs = operand();
      chain.rest.push_back({op.symbol, op.loc, std::move(rhs)});
    }
    SourceLoc loc = chain.rest[0].opLoc; // read before `chain` is moved from
    return makeExpr(loc, std::move(chain));
  };
  auto product = [&] { return chain(BinaryOp::Product, [&] { return operand(next++); }); };
  auto sum = [&] { return chain(BinaryOp::Sum, product); };
  ExprPtr lhs = sum();
  if (!atLevel(BinaryOp::Comparison))
    return lhs;
  const BinaryOp &op = ops[next - 1];
  ExprPtr rhs = sum();
  if (atLevel(BinaryOp::Comparison))
    chained(ops[next - 1].loc);
  return makeExpr(op.loc, CompareExpr{op.compare, op.loc, std::move(lhs), std::move(rhs)});
}

/// The note for `=` written where a comparison was meant.
constexpr const char *ComparesWithEquals = "did you mean '=='? bp compares with '==' ('=' declares a name)";

/// Thrown from a recursion that has run out of stack; caught where the statement's parse started.
struct StackExhausted {};

/// The first syntax error of a statement, in bp's words; the caller decides whether to report it or to
/// blame a bracket that was never closed.
struct SyntaxError {
  SourceLoc loc;
  std::string message;
  size_t tokenIndex;                  // of the offending token within the statement
  antlr4::misc::IntervalSet expected; // what the parser would have accepted there
};

/// Records the first syntax error of the statement being parsed.
class SyntaxErrorListener : public antlr4::BaseErrorListener {
public:
  void startStatement() { first.reset(); }
  const std::optional<SyntaxError> &error() const { return first; }

  void syntaxError(antlr4::Recognizer *recognizer, antlr4::Token *offending, size_t, size_t,
                   const std::string &, std::exception_ptr e) override {
    if (first || !offending)
      return;
    auto *parser = static_cast<antlr4::Parser *>(recognizer);
    antlr4::misc::IntervalSet expected;
    try {
      if (e)
        std::rethrow_exception(e);
      expected = parser->getExpectedTokens();
    } catch (antlr4::RecognitionException &re) {
      expected = re.getExpectedTokens();
    } catch (...) {
      expected = parser->getExpectedTokens();
    }
    // `node y = x grad 1`: 'grad' where the statement could end, outside a def.
    bool misplacedGrad = offending->getType() == BPLexer::GRAD &&
                         expected.contains(static_cast<size_t>(BPLexer::NEWLINE)) &&
                         parser->getTokenStream()->get(0)->getType() != BPLexer::DEF;
    first = SyntaxError{locOf(offending),
                        misplacedGrad ? "only a def can state its derivative with 'grad'"
                                      : "expected " + describeExpected(expected, parser->getVocabulary()) +
                                            ", found " + describeToken(offending),
                        offending->getTokenIndex(), expected};
  }

private:
  std::optional<SyntaxError> first;
};

/// Converts the parse tree of one statement into AST form, reporting what the grammar leaves to the front end:
/// bad number literals, shapes and initializers, chained comparisons, slice bounds and keyword arguments.
class TreeConverter {
public:
  explicit TreeConverter(DiagnosticEngine &diags) : diags(diags) {}

  std::optional<Statement> convert(BPParser::StatementContext *ctx) {
    failed = false;
    Statement statement;
    statement.loc = locOf(ctx->getStart());
    if (auto *input = dynamic_cast<BPParser::InputStatementContext *>(ctx)) {
      InputDecl decl{name(input->declName()), std::nullopt, {}, std::nullopt};
      if (input->signedNumber()) {
        decl.defaultValue = signedNumber(input->signedNumber());
        decl.valueSpan = span(input->signedNumber());
      } else {
        decl.valueSpan.loc = endOf(input->declName()->getStop());
      }
      statement.kind = std::move(decl);
    } else if (auto *param = dynamic_cast<BPParser::ParamStatementContext *>(ctx)) {
      statement.kind = ParamDecl{name(param->declName()), signedNumber(param->signedNumber()),
                                 span(param->signedNumber()), std::nullopt};
    } else if (auto *input = dynamic_cast<BPParser::TensorInputStatementContext *>(ctx)) {
      InputDecl decl{name(input->declName()), std::nullopt, {}, tensorDecl(input->shape(), input->initializer())};
      decl.valueSpan.loc = endOf(input->shape()->getStop());
      statement.kind = std::move(decl);
    } else if (auto *param = dynamic_cast<BPParser::TensorParamStatementContext *>(ctx)) {
      statement.kind = ParamDecl{name(param->declName()), 0.0, {}, tensorDecl(param->shape(), param->initializer())};
    } else if (auto *node = dynamic_cast<BPParser::NodeStatementContext *>(ctx)) {
      statement.kind = NodeDecl{name(node->declName()), expr(node->expr())};
    } else if (auto *output = dynamic_cast<BPParser::OutputStatementContext *>(ctx)) {
      OutputDecl decl;
      for (auto *outputName : output->outputName())
        decl.names.push_back({outputName->getText(), locOf(outputName->getStart())});
      statement.kind = std::move(decl);
    } else if (auto *def = dynamic_cast<BPParser::DefStatementContext *>(ctx)) {
      DefDecl decl{name(def->declName()), {}, expr(def->body), {}, {}};
      if (def->defParams())
        for (auto *param : def->defParams()->declName())
          decl.params.push_back(name(param));
      if (auto *grad = def->gradClause()) {
        decl.gradLoc = locOf(grad->GRAD()->getSymbol());
        for (auto *partial : grad->partials)
          decl.partials.push_back(expr(partial));
      }
      statement.kind = std::move(decl);
    }
    if (failed)
      return std::nullopt;
    return statement;
  }

private:
  /// One message per statement (the rest would often follow from the first), with a note if one is given.
  void error(SourceLoc loc, const std::string &message, SourceLoc noteLoc = {}, const char *note = nullptr) {
    if (!failed) {
      diags.error(loc, message);
      if (note)
        diags.note(noteLoc, note);
    }
    failed = true;
  }

  Name name(BPParser::DeclNameContext *ctx) { return {ctx->getText(), locOf(ctx->getStart())}; }

  /// Just past a token (the tokens the callers pass never span lines).
  static SourceLoc endOf(antlr4::Token *token) {
    SourceLoc loc = locOf(token);
    loc.column += static_cast<uint32_t>(token->getText().size());
    return loc;
  }

  double number(antlr4::Token *token, bool negative) {
    const std::string &text = token->getText();
    errno = 0;
    double value = std::strtod(text.c_str(), nullptr);
    if (errno == ERANGE && std::isinf(value)) { // each one is reported: they are independent
      diags.error(locOf(token), "number '" + text + "' is too large to be represented as a double");
      failed = true;
    }
    return negative ? -value : value;
  }

  /// The columns a signed number covers (a sign and its number may be apart: `- 5`).
  static ValueSpan span(BPParser::SignedNumberContext *ctx) {
    SourceLoc loc = locOf(ctx->getStart());
    return {loc, endOf(ctx->getStop()).column - loc.column};
  }

  double signedNumber(BPParser::SignedNumberContext *ctx) {
    return number(ctx->NUMBER()->getSymbol(), ctx->sign && ctx->sign->getText() == "-");
  }

  /// The value of an integer literal (digits only), or nullopt after reporting `what` at `loc`.
  std::optional<int64_t> integer(antlr4::Token *number, bool negative, SourceLoc loc, const std::string &what) {
    const std::string &text = number->getText();
    std::string shown = (negative ? "-" : "") + text;
    if (text.find_first_not_of("0123456789") != std::string::npos) {
      error(loc, what + " must be an integer, found '" + shown + "'");
      return std::nullopt;
    }
    if (text.size() > 18) {
      error(loc, what + " '" + shown + "' is too large");
      return std::nullopt;
    }
    int64_t value = std::stoll(text);
    return negative ? -value : value;
  }

  std::optional<int64_t> integer(BPParser::SignedNumberContext *ctx, const std::string &what) {
    return integer(ctx->NUMBER()->getSymbol(), ctx->sign && ctx->sign->getText() == "-", locOf(ctx->getStart()),
                   what);
  }

  /// The NUMBER token of an expression that is a literal, minus signs allowed (`-3`), else null.
  static antlr4::Token *literalOf(BPParser::ExprContext *ctx, bool &negative) {
    if (!ctx->binOp.empty())
      return nullptr;
    BPParser::FactorContext *factor = ctx->factor(0);
    if (!factor->powerTail().empty() || !factor->postfix()->index().empty())
      return nullptr;
    auto *number = dynamic_cast<BPParser::NumberExprContext *>(factor->postfix()->primary());
    if (!number)
      return nullptr;
    negative = factor->negs.size() % 2 == 1;
    return number->NUMBER()->getSymbol();
  }

  /// An expression that must be an integer literal (an axis, a slice bound).
  std::optional<int64_t> integerLiteral(BPParser::ExprContext *ctx, const std::string &what) {
    bool negative = false;
    antlr4::Token *number = literalOf(ctx, negative);
    if (!number) {
      error(locOf(ctx->getStart()), what + " must be an integer literal");
      return std::nullopt;
    }
    return integer(number, negative, locOf(ctx->getStart()), what);
  }

  static std::string shapeText(const ShapeDecl &shape) {
    std::string text = "[";
    for (size_t i = 0; i < shape.dims.size(); ++i)
      text += (i ? "," : "") + std::to_string(shape.dims[i]);
    return text + "]";
  }

  /// `[d1, ..., dk]`: rank 1 to MaxTensorRank, positive dimensions, at most MaxTensorElements elements.
  ShapeDecl shape(BPParser::ShapeContext *ctx) {
    ShapeDecl result{locOf(ctx->getStart()), {}, {}};
    std::vector<BPParser::SignedNumberContext *> dims = ctx->signedNumber();
    if (dims.empty())
      error(result.loc, "a shape needs 1 to " + std::to_string(MaxTensorRank) + " dimensions, found none");
    if (dims.size() > MaxTensorRank)
      error(locOf(dims[MaxTensorRank]->getStart()), "a shape has at most " + std::to_string(MaxTensorRank) +
                                                      " dimensions, found " + std::to_string(dims.size()));
    int64_t elements = 1;
    for (auto *dim : dims) {
      std::optional<int64_t> value = integer(dim, "a dimension");
      if (!value)
        return result;
      if (*value <= 0) {
        error(locOf(dim->getStart()), "a dimension must be positive, found '" + std::to_string(*value) + "'");
        return result;
      }
      if (*value > MaxTensorElements / elements) {
        error(locOf(dim->getStart()), "a tensor may have at most " + std::to_string(MaxTensorElements) +
                                          " elements; this shape has more");
        return result;
      }
      elements *= *value;
      result.dims.push_back(*value);
      result.dimLocs.push_back(locOf(dim->getStart()));
    }
    return result;
  }

  TensorDecl tensorDecl(BPParser::ShapeContext *shapeCtx, BPParser::InitializerContext *ctx) {
    TensorDecl decl{shape(shapeCtx), std::nullopt};
    if (!ctx || failed)
      return decl;
    TensorInit init{TensorInit::Fill, {}, {locOf(ctx->getStart()), endOf(ctx->getStop())}};
    if (auto *fill = dynamic_cast<BPParser::FillInitContext *>(ctx)) {
      init.values.push_back(signedNumber(fill->signedNumber()));
    } else if (auto *literalCtx = dynamic_cast<BPParser::LiteralInitContext *>(ctx)) {
      init.kind = TensorInit::Literal;
      literal(literalCtx->tensorLiteral(), decl.shape, 0, init.values);
    } else {
      randomInit(static_cast<BPParser::RandomInitContext *>(ctx), init);
    }
    decl.init = std::move(init);
    return decl;
  }

  /// `normal(MEAN, STD)` or `uniform(LOW, HIGH)`.
  void randomInit(BPParser::RandomInitContext *ctx, TensorInit &init) {
    std::string callee = ctx->ID()->getText();
    SourceLoc loc = locOf(ctx->ID()->getSymbol());
    if (callee != "normal" && callee != "uniform")
      return error(loc, "unknown initializer '" + callee + "'; expected normal(MEAN, STD) or uniform(LOW, HIGH)");
    init.kind = callee == "normal" ? TensorInit::Normal : TensorInit::Uniform;
    std::vector<BPParser::SignedNumberContext *> args = ctx->signedNumber();
    if (args.size() != 2)
      return error(loc, "'" + callee + "' takes 2 arguments (" + (callee == "normal" ? "MEAN, STD" : "LOW, HIGH") +
                            "), but " + std::to_string(args.size()) + (args.size() == 1 ? " was" : " were") +
                            " given");
    for (auto *arg : args)
      init.values.push_back(signedNumber(arg));
    if (init.kind == TensorInit::Normal && init.values[1] < 0)
      error(locOf(args[1]->getStart()), "the standard deviation of 'normal' must not be negative, found '" +
                                            args[1]->getText() + "'");
    if (init.kind == TensorInit::Uniform && init.values[0] > init.values[1])
      error(locOf(args[0]->getStart()), "'uniform' needs LOW <= HIGH, found " + args[0]->getText() + " > " +
                                            args[1]->getText());
  }

  /// Checks one list of a literal against dimension `depth` of `shape` and appends its numbers, row-major.
  void literal(BPParser::TensorLiteralContext *ctx, const ShapeDecl &shape, size_t depth, std::vector<double> &values) {
    if (failed)
      return; // the shape itself was refused
    std::vector<BPParser::LiteralItemContext *> items = ctx->literalItem();
    bool innermost = depth + 1 == shape.dims.size();
    for (auto *item : items) {
      if (innermost && item->tensorLiteral())
        return error(locOf(item->getStart()), "expected a number, found a list: shape " + shapeText(shape) +
                                                  " has " + std::to_string(shape.dims.size()) + " dimension" +
                                                  (shape.dims.size() == 1 ? "" : "s"));
      if (!innermost && !item->tensorLiteral())
        return error(locOf(item->getStart()), "expected a list of " + std::to_string(shape.dims[depth + 1]) +
                                                  (shape.dims[depth + 1] == 1 ? " element" : " elements") +
                                                  " for dimension " + std::to_string(depth + 1) + " of shape " +
                                                  shapeText(shape) + ", found a number");
    }
    size_t expected = static_cast<size_t>(shape.dims[depth]);
    if (items.size() != expected) {
      // Too many: at the first one too many; too few: at the ']' that comes too soon.
      SourceLoc at = items.size() > expected ? locOf(items[expected]->getStart()) : locOf(ctx->getStop());
      return error(at, "expected " + std::to_string(expected) + " element" + (expected == 1 ? "" : "s") +
                           " along dimension " + std::to_string(depth) + " of shape " + shapeText(shape) +
                           ", found " + std::to_string(items.size()));
    }
    for (auto *item : items) {
      if (innermost)
        values.push_back(signedNumber(item->signedNumber()));
      else
        literal(item->tensorLiteral(), shape, depth + 1, values);
    }
  }

  /// The grammar leaves `a + b * c < d` as one flat list; applyPrecedence builds the tree.
  ExprPtr expr(BPParser::ExprContext *ctx) {
    if (stackNearlyExhausted())
      throw StackExhausted{};
    std::vector<BPParser::FactorContext *> factors = ctx->factor();
    std::vector<BinaryOp> ops;
    for (antlr4::Token *op : ctx->binOp) // ops[i] stands between factors i and i + 1
      ops.push_back(binaryOp(op->getText(), locOf(op)));
    return applyPrecedence(ops, [&](size_t i) { return factor(factors[i]); },
                           [&](SourceLoc loc) { error(loc, ChainedComparison); });
  }

  ExprPtr factor(BPParser::FactorContext *ctx) {
    unsigned negations = static_cast<unsigned>(ctx->negs.size());
    std::vector<BPParser::PowerTailContext *> tails = ctx->powerTail();
    // A negative literal is a constant, not a negation node: `-6` reads as the number -6 (bit-identical).
    auto *numberCtx = dynamic_cast<BPParser::NumberExprContext *>(ctx->postfix()->primary());
    if (negations > 0 && numberCtx && tails.empty() && ctx->postfix()->index().empty()) {
      bool negative = negations % 2 == 1;
      return makeExpr(locOf(ctx->negs[0]), NumberExpr{number(numberCtx->NUMBER()->getSymbol(), negative)});
    }
    ExprPtr operand = power(ctx->postfix(), tails);
    if (negations == 0)
      return operand;
    return makeExpr(locOf(ctx->negs[0]), NegateExpr{negations, std::move(operand)});
  }

  ExprPtr power(BPParser::PostfixContext *baseCtx, const std::vector<BPParser::PowerTailContext *> &tails) {
    ExprPtr base = postfix(baseCtx);
    if (tails.empty())
      return base;
    PowerExpr chain{std::move(base), {}};
    for (auto *tail : tails)
      chain.exponents.push_back({locOf(tail->getStart()), static_cast<unsigned>(tail->negs.size()),
                                 postfix(tail->postfix())});
    SourceLoc loc = chain.exponents[0].opLoc;
    return makeExpr(loc, std::move(chain));
  }

  /// `primary[index, ...]`.
  ExprPtr postfix(BPParser::PostfixContext *ctx) {
    ExprPtr base = primary(ctx->primary());
    if (ctx->index().empty())
      return base;
    IndexExpr index{std::move(base), {}};
    for (auto *item : ctx->index())
      index.items.push_back(indexItem(item));
    return makeExpr(locOf(bracketAfter(ctx)), std::move(index));
  }

  /// The '[' that opens a postfix's index list.
  static antlr4::Token *bracketAfter(BPParser::PostfixContext *ctx) {
    auto *bracket = dynamic_cast<antlr4::tree::TerminalNode *>(ctx->children[1]);
    assert(bracket && "an index list starts with '['");
    return bracket->getSymbol();
  }

  IndexExpr::Item indexItem(BPParser::IndexContext *ctx) {
    IndexExpr::Item item{locOf(ctx->getStart()), nullptr, std::nullopt};
    BPParser::ExprContext *lo = nullptr, *hi = nullptr;
    antlr4::Token *colon = nullptr;
    if (auto *open = dynamic_cast<BPParser::OpenSliceContext *>(ctx)) {
      colon = open->colon;
      hi = open->hi;
    } else {
      auto *indexOrSlice = static_cast<BPParser::IndexOrSliceContext *>(ctx);
      lo = indexOrSlice->lo;
      colon = indexOrSlice->colon;
      hi = indexOrSlice->hi;
    }
    if (!colon) {
      bool negative = false;
      if (antlr4::Token *number = literalOf(lo, negative))
        integer(number, negative, item.loc, "an index");
      item.index = expr(lo);
      return item;
    }
    IndexExpr::Slice slice{locOf(colon), std::nullopt, std::nullopt, {}, {}};
    if (lo) {
      slice.lo = integerLiteral(lo, "a slice bound");
      slice.loLoc = locOf(lo->getStart());
    }
    if (hi) {
      slice.hi = integerLiteral(hi, "a slice bound");
      slice.hiLoc = locOf(hi->getStart());
    }
    item.slice = slice;
    return item;
  }

  ExprPtr primary(BPParser::PrimaryContext *ctx) {
    SourceLoc loc = locOf(ctx->getStart());
    if (auto *numberCtx = dynamic_cast<BPParser::NumberExprContext *>(ctx))
      return makeExpr(loc, NumberExpr{number(numberCtx->NUMBER()->getSymbol(), false)});
    if (auto *nameCtx = dynamic_cast<BPParser::NameExprContext *>(ctx))
      return makeExpr(loc, NameExpr{nameCtx->ID()->getText()});
    if (auto *call = dynamic_cast<BPParser::CallExprContext *>(ctx))
      return makeExpr(loc, callExpr(call));
    auto *paren = static_cast<BPParser::ParenExprContext *>(ctx);
    return expr(paren->expr());
  }

  /// `callee(arg, ..., axis=K)`: positional arguments first, then at most one `axis`.
  CallExpr callExpr(BPParser::CallExprContext *ctx) {
    CallExpr call{ctx->ID()->getText(), {}, std::nullopt};
    for (auto *arg : ctx->argument()) {
      if (auto *keyword = dynamic_cast<BPParser::KeywordArgumentContext *>(arg)) {
        std::string word = keyword->ID()->getText();
        SourceLoc loc = locOf(keyword->ID()->getSymbol());
        if (word != "axis") // `where(x = 1, ...)`: a comparison, unless the callee takes an axis
          error(loc, "unknown keyword argument '" + word + "'; the only keyword is 'axis'", locOf(keyword->equals),
                takesAxisArgument(call.callee) ? nullptr : ComparesWithEquals);
        else if (call.axis)
          error(loc, "'axis' is given twice");
        else if (std::optional<int64_t> value = integerLiteral(keyword->expr(), "axis"))
          call.axis = AxisArg{*value, loc, locOf(keyword->expr()->getStart())};
        continue;
      }
      auto *positional = static_cast<BPParser::PositionalArgumentContext *>(arg);
      if (call.axis)
        error(locOf(positional->getStart()), "positional argument after the keyword argument 'axis'");
      call.args.push_back(expr(positional->expr()));
    }
    return call;
  }

  DiagnosticEngine &diags;
  bool failed = false;
};

using TokenList = std::vector<std::unique_ptr<antlr4::Token>>;

/// Reads the statements most scripts are made of straight from their tokens, without ANTLR's parser: scalar
/// inputs and params, nodes and outputs, over numbers, names, calls without `axis`, parentheses, unary minus,
/// powers and binary operators. It accepts only what the grammar accepts and builds the tree TreeConverter
/// would; everything else (other statements, indexing, keyword arguments, a keyword as a name, a number too
/// large, a chained comparison, any syntax error) it leaves to ANTLR, which reports what is wrong. It reports
/// nothing itself.
class FastStatementParser {
public:
  explicit FastStatementParser(const antlr4::dfa::Vocabulary &vocabulary) {
    auto type = [&](std::string_view literal) { return literalType(vocabulary, literal); };
    openParen = type("'('");
    closeParen = type("')'");
    openBracket = type("'['");
    comma = type("','");
    equals = type("'='");
    minus = type("'-'");
    plus = type("'+'");
    caret = type("'^'");
    for (std::string_view op : {"+", "-", "*", "/", "@", "<", "<=", ">", ">=", "==", "!="})
      binaryOps.emplace_back(type("'" + std::string(op) + "'"), binaryOp(op, {}));
  }

  /// The statement `statementTokens` (its terminator last) spell, or nullopt where ANTLR must read it.
  std::optional<Statement> parse(const TokenList &statementTokens);

private:
  antlr4::Token *token() const { return (*tokens)[pos].get(); }
  size_t type() const { return token()->getType(); }
  /// Moves past the current token if it has type `expected`.
  bool accept(size_t expected) {
    if (type() != expected)
      return false;
    ++pos;
    return true;
  }
  std::nullptr_t fail() {
    ok = false;
    return nullptr;
  }

  std::optional<Name> declName();
  std::optional<double> signedNumber(ValueSpan &span);
  std::optional<double> number(bool negative);
  ExprPtr expr();
  ExprPtr factor();
  ExprPtr primary();

  const TokenList *tokens = nullptr;
  size_t pos = 0;
  bool ok = true;
  size_t openParen, closeParen, openBracket, comma, equals, minus, plus, caret;
  std::vector<std::pair<size_t, BinaryOp>> binaryOps; // by token type
};

std::optional<Statement> FastStatementParser::parse(const TokenList &statementTokens) {
  tokens = &statementTokens;
  pos = 0;
  ok = true;
  Statement statement;
  statement.loc = locOf(token());
  size_t keyword = type();
  ++pos;
  std::optional<Name> name = declName();
  if (!name)
    return std::nullopt;
  switch (keyword) {
  case BPLexer::INPUT: {
    InputDecl decl{*name, std::nullopt, {}, std::nullopt};
    if (accept(equals))
      decl.defaultValue = signedNumber(decl.valueSpan);
    else
      decl.valueSpan.loc = {name->loc.line, name->loc.column + static_cast<uint32_t>(name->text.size())};
    statement.kind = std::move(decl);
    break;
  }
  case BPLexer::PARAM: {
    ParamDecl decl{*name, 0.0, {}, std::nullopt};
    if (!accept(equals))
      return std::nullopt;
    std::optional<double> value = signedNumber(decl.valueSpan);
    decl.initialValue = value.value_or(0.0);
    statement.kind = std::move(decl);
    break;
  }
  case BPLexer::NODE: {
    if (!accept(equals))
      return std::nullopt;
    statement.kind = NodeDecl{*name, expr()};
    break;
  }
  case BPLexer::OUTPUT: {
    OutputDecl decl{{*name}};
    while (ok && accept(comma))
      if (std::optional<Name> next = declName())
        decl.names.push_back(*next);
    statement.kind = std::move(decl);
    break;
  }
  default:
    return std::nullopt;
  }
  if (!ok || pos + 1 != tokens->size()) // the statement's terminator is its last token
    return std::nullopt;
  return statement;
}

/// A name (an ID token; ANTLR reads a keyword written as a name, to report it).
std::optional<Name> FastStatementParser::declName() {
  if (type() != BPLexer::ID) {
    ok = false;
    return std::nullopt;
  }
  Name name{token()->getText(), locOf(token())};
  ++pos;
  return name;
}

/// `('-' | '+')? NUMBER`, and the columns it covers.
std::optional<double> FastStatementParser::signedNumber(ValueSpan &span) {
  span.loc = locOf(token());
  bool negative = type() == minus;
  if (negative || type() == plus)
    ++pos;
  if (type() != BPLexer::NUMBER) {
    ok = false;
    return std::nullopt;
  }
  span.length = locOf(token()).column + static_cast<uint32_t>(token()->getText().size()) - span.loc.column;
  return number(negative);
}

/// The NUMBER token here, as TreeConverter::number reads it; nullopt for one too large for a double.
std::optional<double> FastStatementParser::number(bool negative) {
  std::string text = token()->getText();
  errno = 0;
  double value = std::strtod(text.c_str(), nullptr);
  if (errno == ERANGE && std::isinf(value)) {
    ok = false;
    return std::nullopt;
  }
  ++pos;
  return negative ? -value : value;
}

/// `factor (binOp factor)*`, with precedence applied as TreeConverter::expr applies it.
ExprPtr FastStatementParser::expr() {
  if (stackNearlyExhausted())
    return fail();
  std::vector<ExprPtr> operands;
  std::vector<BinaryOp> ops;
  operands.push_back(factor());
  while (ok) {
    auto op = llvm::find_if(binaryOps, [&](const auto &entry) { return entry.first == type(); });
    if (op == binaryOps.end())
      break;
    ops.push_back(op->second);
    ops.back().loc = locOf(token());
    ++pos;
    operands.push_back(factor());
  }
  if (!ok)
    return nullptr;
  ExprPtr result = applyPrecedence(ops, [&](size_t i) { return std::move(operands[i]); },
                                   [&](SourceLoc) { ok = false; });
  return ok ? std::move(result) : nullptr;
}

/// `'-'* primary ('^' '-'* primary)*` (an index list after a primary is left to ANTLR).
ExprPtr FastStatementParser::factor() {
  SourceLoc negationLoc = locOf(token());
  unsigned negations = 0;
  while (accept(minus))
    ++negations;
  bool literal = type() == BPLexer::NUMBER;
  ExprPtr base = primary();
  if (!ok)
    return nullptr;
  PowerExpr power{std::move(base), {}};
  while (type() == caret) {
    SourceLoc opLoc = locOf(token());
    ++pos;
    unsigned exponentNegations = 0;
    while (accept(minus))
      ++exponentNegations;
    ExprPtr exponent = primary();
    if (!ok)
      return nullptr;
    power.exponents.push_back({opLoc, exponentNegations, std::move(exponent)});
  }
  // A negative literal is a constant, not a negation node (TreeConverter::factor).
  if (negations > 0 && literal && power.exponents.empty()) {
    double value = std::get<NumberExpr>(power.base->kind).value;
    return makeExpr(negationLoc, NumberExpr{negations % 2 == 1 ? -value : value});
  }
  ExprPtr operand = std::move(power.base);
  if (!power.exponents.empty()) {
    SourceLoc loc = power.exponents[0].opLoc;
    power.base = std::move(operand);
    operand = makeExpr(loc, std::move(power));
  }
  if (negations == 0)
    return operand;
  return makeExpr(negationLoc, NegateExpr{negations, std::move(operand)});
}

/// A number, a name, a call with positional arguments, or a parenthesized expression, with no index list.
ExprPtr FastStatementParser::primary() {
  SourceLoc loc = locOf(token());
  ExprPtr result;
  if (type() == BPLexer::NUMBER) {
    std::optional<double> value = number(false);
    if (!value)
      return nullptr;
    result = makeExpr(loc, NumberExpr{*value});
  } else if (accept(openParen)) {
    result = expr();
    if (!ok || !accept(closeParen))
      return fail();
  } else if (type() == BPLexer::ID && (*tokens)[pos + 1]->getType() == openParen) {
    CallExpr call{token()->getText(), {}, std::nullopt};
    pos += 2;
    if (!accept(closeParen)) {
      do {
        if (type() == BPLexer::ID && (*tokens)[pos + 1]->getType() == equals)
          return fail(); // a keyword argument
        call.args.push_back(expr());
        if (!ok)
          return nullptr;
      } while (accept(comma));
      if (!accept(closeParen))
        return fail();
    }
    result = makeExpr(loc, std::move(call));
  } else if (type() == BPLexer::ID) {
    result = makeExpr(loc, NameExpr{token()->getText()});
    ++pos;
  } else {
    return fail();
  }
  if (type() == openBracket)
    return fail(); // an index list
  return result;
}

/// Splits a script into the tokens BPLexer (grammar/BP.g4's lexer rules) makes, with the same types, text,
/// lines and columns (columns count code points, and only '\n' starts a line, as ANTLR counts), straight from
/// the UTF-8 text instead of through ANTLR's code-point stream and lexer simulation. ParseModeTest checks that
/// both read every test script alike.
class ScriptLexer {
public:
  /// `source` is the token source the tokens name (ANTLR's error recovery asks a token for it).
  ScriptLexer(const std::string &text, antlr4::TokenSource *source, const antlr4::dfa::Vocabulary &vocabulary)
      : text(text), source(source, source->getInputStream()) {
    for (size_t type = 1; type <= vocabulary.getMaxTokenType(); ++type) {
      std::string literal = vocabulary.getLiteralName(type); // "'<='"
      if (literal.size() == 3)
        singleTypes[static_cast<unsigned char>(literal[1])] = type;
      else if (literal.size() == 4 && literal[2] == '=')
        equalsTypes[static_cast<unsigned char>(literal[1])] = type;
    }
  }

  std::unique_ptr<antlr4::Token> nextToken();

private:
  char at(size_t i) const { return i < text.size() ? text[i] : '\0'; } // the text holds no NUL byte
  static bool isDigit(char c) { return c >= '0' && c <= '9'; }
  static bool isIdStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
  size_t skipDigits(size_t i) const {
    while (isDigit(at(i)))
      ++i;
    return i;
  }
  /// Consumes the text up to byte `end`, counting lines, columns and code points.
  void advance(size_t end) {
    for (; pos < end; ++pos) {
      if ((text[pos] & 0xC0) == 0x80)
        continue; // a continuation byte: not a code point of its own
      ++index;
      if (text[pos] == '\n') {
        ++line;
        column = 0;
      } else {
        ++column;
      }
    }
  }
  /// The token of `type` from here to byte `end`.
  std::unique_ptr<antlr4::Token> make(size_t type, size_t end);

  const std::string &text;
  std::pair<antlr4::TokenSource *, antlr4::CharStream *> source;
  size_t pos = 0, index = 0, line = 1, column = 0; // index: in code points, as ANTLR's stream counts
  size_t singleTypes[128] = {}, equalsTypes[128] = {}; // the literal tokens: 'c', and 'c=' by c
};

std::unique_ptr<antlr4::Token> ScriptLexer::make(size_t type, size_t end) {
  size_t startIndex = index, startLine = line, startColumn = column, start = pos;
  advance(end);
  auto token = std::make_unique<antlr4::CommonToken>(source, type, antlr4::Token::DEFAULT_CHANNEL, startIndex,
                                                     index - 1);
  token->setLine(startLine);
  token->setCharPositionInLine(startColumn);
  token->setText(text.substr(start, end - start));
  return token;
}

std::unique_ptr<antlr4::Token> ScriptLexer::nextToken() {
  static constexpr std::pair<std::string_view, size_t> keywords[] = {
      {"input", BPLexer::INPUT}, {"param", BPLexer::PARAM}, {"node", BPLexer::NODE},
      {"output", BPLexer::OUTPUT}, {"def", BPLexer::DEF}, {"grad", BPLexer::GRAD}};
  while (pos < text.size()) {
    char c = text[pos];
    size_t end = pos + 1;
    switch (c) {
    case ' ': // WS: skipped
    case '\t':
    case '\f':
    case '\v':
      while (llvm::is_contained({' ', '\t', '\f', '\v'}, at(end)))
        ++end;
      advance(end);
      continue;
    case '#': // COMMENT: skipped, up to the line's end
      while (end < text.size() && text[end] != '\r' && text[end] != '\n')
        ++end;
      advance(end);
      continue;
    case '\r':
      return make(BPLexer::NEWLINE, at(end) == '\n' ? end + 1 : end);
    case '\n':
      return make(BPLexer::NEWLINE, end);
    case ';':
      return make(BPLexer::SEMI, end);
    default:
      break;
    }
    if (isIdStart(c)) {
      while (isIdStart(at(end)) || isDigit(at(end)))
        ++end;
      std::string_view word(text.data() + pos, end - pos);
      for (const auto &[keyword, type] : keywords)
        if (word == keyword)
          return make(type, end);
      return make(BPLexer::ID, end);
    }
    if (isDigit(c) || (c == '.' && isDigit(at(end)))) {
      // NUMBER: DIGIT+ ('.' DIGIT*)? EXPONENT? | '.' DIGIT+ EXPONENT?; BAD_NUMBER where the exponent has no digits.
      end = isDigit(c) ? skipDigits(pos) : skipDigits(pos + 1);
      if (isDigit(c) && at(end) == '.')
        end = skipDigits(end + 1);
      if (at(end) != 'e' && at(end) != 'E')
        return make(BPLexer::NUMBER, end);
      size_t digits = at(end + 1) == '+' || at(end + 1) == '-' ? end + 2 : end + 1;
      if (!isDigit(at(digits)))
        return make(BPLexer::BAD_NUMBER, digits);
      return make(BPLexer::NUMBER, skipDigits(digits));
    }
    auto byte = static_cast<unsigned char>(c);
    if (byte < 128 && equalsTypes[byte] && at(end) == '=')
      return make(equalsTypes[byte], end + 1);
    if (byte < 128 && singleTypes[byte])
      return make(singleTypes[byte], end);
    // UNKNOWN: one code point, whatever its length in UTF-8.
    while (end < text.size() && (text[end] & 0xC0) == 0x80)
      ++end;
    return make(BPLexer::UNKNOWN, end);
  }
  auto eof = std::make_unique<antlr4::CommonToken>(source, antlr4::Token::EOF, antlr4::Token::DEFAULT_CHANNEL, index,
                                                   index - 1);
  eof->setLine(line);
  eof->setCharPositionInLine(column);
  eof->setText("<EOF>");
  return eof;
}

/// The generated parser, refusing to recurse further once the stack runs low.
class GuardedParser : public BPParser {
public:
  using BPParser::BPParser;

  void enterRule(antlr4::ParserRuleContext *ctx, size_t state, size_t ruleIndex) override {
    if (stackNearlyExhausted())
      throw StackExhausted{};
    BPParser::enterRule(ctx, state, ruleIndex);
  }
};

/// Hands the parser the tokens of one statement, its terminator last, then end of file. Lexing and parsing
/// one statement at a time keeps only that statement's tokens and parse tree in memory.
class StatementTokenSource : public antlr4::TokenSource {
public:
  StatementTokenSource(TokenList tokens, BPLexer &lexer) : tokens(std::move(tokens)), lexer(lexer) {}

  std::unique_ptr<antlr4::Token> nextToken() override {
    if (next < tokens.size())
      return std::move(tokens[next++]);
    return std::make_unique<antlr4::CommonToken>(antlr4::Token::EOF, "<EOF>");
  }
  size_t getLine() const override { return lexer.getLine(); }
  size_t getCharPositionInLine() override { return lexer.getCharPositionInLine(); }
  antlr4::CharStream *getInputStream() override { return lexer.getInputStream(); }
  std::string getSourceName() override { return lexer.getSourceName(); }
  antlr4::TokenFactory<antlr4::CommonToken> *getTokenFactory() override { return lexer.getTokenFactory(); }

private:
  TokenList tokens;
  size_t next = 0;
  BPLexer &lexer;
};

/// A '(' or '[' of the statement being read that is not closed yet.
struct OpenBracket {
  char text;
  SourceLoc loc;
};

/// Lexes a script and parses it one statement at a time into `script`.
class ScriptParser {
public:
  ScriptParser(const SourceFileRef &file, DiagnosticEngine &diags, Script &script, ParseMode mode)
      : input(mode == ParseMode::AntlrOnly ? file->text() : std::string()), lexer(&input),
        scriptLexer(file->text(), &lexer, lexer.getVocabulary()), parser(nullptr), diags(diags), converter(diags),
        fastParser(lexer.getVocabulary()), mode(mode), script(script),
        nestingLimit(bp::nestingLimit()) {
    lexer.removeErrorListeners(); // UNKNOWN catches every character no other rule matches
    parser.removeErrorListeners();
    parser.addErrorListener(&listener);
    // The token types of the brackets (implicit literal tokens in the grammar), looked up once.
    const antlr4::dfa::Vocabulary &vocabulary = lexer.getVocabulary();
    openParen = literalType(vocabulary, "'('");
    closeParen = literalType(vocabulary, "')'");
    openBracket = literalType(vocabulary, "'['");
    closeBracket = literalType(vocabulary, "']'");
    star = literalType(vocabulary, "'*'");
    slash = literalType(vocabulary, "'/'");
    equals = literalType(vocabulary, "'='");
    colon = literalType(vocabulary, "':'");
  }

  void parseAll();

private:
  bool reportBadTokens(const TokenList &tokens);
  bool reportDeepNesting(const TokenList &tokens);
  void poison(const std::string &name) {
    if (!name.empty())
      script.poisonedNames.push_back(name);
  }
  void reportSyntaxError(const SyntaxError &error, size_t endIndex, const std::vector<OpenBracket> &open,
                         bool continued, antlr4::BufferedTokenStream &stream);
  std::optional<Diagnostic> slipNote(const SyntaxError &error, antlr4::BufferedTokenStream &stream) const;
  void parseStatement(TokenList tokens, const std::vector<OpenBracket> &open, bool continued);

  antlr4::ANTLRInputStream input; // the script's text with ParseMode::AntlrOnly, else empty
  BPLexer lexer;                  // lexes `input`; the token source of every token
  ScriptLexer scriptLexer;
  GuardedParser parser;
  SyntaxErrorListener listener;
  DiagnosticEngine &diags;
  TreeConverter converter;
  FastStatementParser fastParser;
  ParseMode mode;
  Script &script;
  unsigned nestingLimit;
  size_t openParen = 0, closeParen = 0, openBracket = 0, closeBracket = 0;
  size_t star = 0, slash = 0, equals = 0, colon = 0; // for slipNote
};

/// Tokens that the grammar lexes only to report: an unknown character or a number with an empty exponent.
bool ScriptParser::reportBadTokens(const TokenList &tokens) {
  for (const auto &token : tokens) {
    if (token->getType() == BPLexer::UNKNOWN) {
      uint32_t cp = firstCodePoint(token->getText());
      char code[16];
      snprintf(code, sizeof code, "U+%04X", cp);
      std::string shown = cp < 0x20 || cp == 0x7F ? std::string(code) : "'" + encodeUtf8(cp) + "'";
      diags.error(locOf(token.get()), "unexpected character " + shown);
      return true;
    }
    if (token->getType() == BPLexer::BAD_NUMBER) {
      diags.error(locOf(token.get()), "malformed number '" + token->getText() + "': exponent has no digits");
      return true;
    }
  }
  return false;
}

/// Parentheses, brackets and calls are the only constructs the parser recurses on; refuse statements deeper
/// than the nesting limit before parsing them.
bool ScriptParser::reportDeepNesting(const TokenList &tokens) {
  unsigned depth = 0;
  for (const auto &token : tokens) {
    size_t type = token->getType();
    if ((type == openParen || type == openBracket) && ++depth > nestingLimit) {
      std::string message = "expression is nested too deeply (more than " + std::to_string(nestingLimit) +
                            (type == openParen ? " levels of parentheses" : " levels of brackets");
      if (nestingLimit < MaxNestingDepth)
        message += "; the system allowed bp only a " + std::to_string(currentStackBytes() >> 20) + " MiB stack";
      diags.error(locOf(token.get()), message + ")");
      return true;
    }
    if ((type == closeParen || type == closeBracket) && depth > 0)
      --depth;
  }
  return false;
}

/// The name a statement declares, read straight from its tokens ("" if none): when the statement fails,
/// later uses of the name are not reported a second time.
std::string declaredName(const TokenList &tokens) {
  if (tokens.size() < 2 || !isKeyword(tokens[0]->getType()) || tokens[0]->getType() == BPLexer::OUTPUT)
    return "";
  return tokens[1]->getType() == BPLexer::ID ? tokens[1]->getText() : "";
}

/// A statement that ends with brackets still open fails where it ends; the bracket is the better place to
/// point at, unless the statement is one line whose parser message already names the missing ')' or ']'.
void ScriptParser::reportSyntaxError(const SyntaxError &error, size_t endIndex, const std::vector<OpenBracket> &open,
                                     bool continued, antlr4::BufferedTokenStream &stream) {
  if (!open.empty() && error.tokenIndex >= endIndex) {
    const OpenBracket &innermost = open.back();
    size_t closer = innermost.text == '(' ? closeParen : closeBracket;
    if (continued || error.expected.size() != 1 || !error.expected.contains(closer))
      return diags.error(innermost.loc, std::string("'") + innermost.text + "' is never closed");
  }
  diags.error(error.loc, error.message);
  if (std::optional<Diagnostic> note = slipNote(error, stream))
    diags.note(note->loc, std::move(note->message));
}

/// A note for a syntax error that is a habit from another language: `x ** 2` (a power), `// ...` (a comment),
/// a second `=` in a node or def (a comparison), `node y := x` (a declaration).
std::optional<Diagnostic> ScriptParser::slipNote(const SyntaxError &error, antlr4::BufferedTokenStream &stream) const {
  stream.fill();
  antlr4::Token *at = stream.get(error.tokenIndex);
  antlr4::Token *before = error.tokenIndex > 0 ? stream.get(error.tokenIndex - 1) : nullptr;
  antlr4::Token *after = error.tokenIndex + 1 < stream.size() ? stream.get(error.tokenIndex + 1) : nullptr;
  auto touching = [](antlr4::Token *first, antlr4::Token *second) {
    return first && second && first->getLine() == second->getLine() &&
           second->getCharPositionInLine() == first->getCharPositionInLine() + first->getText().size();
  };
  // The first of two touching tokens of `type`, one of them the offending token (the second, unless
  // `eitherOne`); else null.
  auto doubled = [&](size_t type, bool eitherOne) -> antlr4::Token * {
    if (at->getType() != type)
      return nullptr;
    if (before && before->getType() == type && touching(before, at))
      return before;
    return eitherOne && after && after->getType() == type && touching(at, after) ? at : nullptr;
  };
  // A second '=' in a node or def: the first declares, so this one was meant to compare.
  auto comparesWithEquals = [&] {
    size_t first = stream.get(0)->getType();
    if (at->getType() != equals || (first != BPLexer::NODE && first != BPLexer::DEF))
      return false;
    for (size_t i = 0; i < error.tokenIndex; ++i)
      if (stream.get(i)->getType() == equals)
        return true;
    return false;
  };
  auto note = [](antlr4::Token *token, std::string message) {
    return Diagnostic{Severity::Note, locOf(token), std::move(message)};
  };
  if (antlr4::Token *first = doubled(star, /*eitherOne=*/false)) // x ** 2; not **x
    return note(first, "did you mean '^'? bp writes powers as x ^ 2");
  if (antlr4::Token *first = doubled(slash, /*eitherOne=*/true)) // x // 2, and a line that starts with //
    return note(first, "comments start with '#'; bp has no '//' operator");
  if (comparesWithEquals())
    return note(at, ComparesWithEquals);
  if (at->getType() == colon && after && after->getType() == equals && touching(at, after) &&
      error.expected.contains(equals))
    return note(at, "did you mean '='? bp declares with '=', as in node y = x + 1");
  return std::nullopt;
}

/// Parses one statement: `tokens` ends with the token that ends it; `open` are the brackets still open
/// there; `continued` says whether the statement went on past a newline inside brackets.
void ScriptParser::parseStatement(TokenList tokens, const std::vector<OpenBracket> &open, bool continued) {
  std::string declared = declaredName(tokens);
  if (reportBadTokens(tokens) || reportDeepNesting(tokens))
    return poison(declared);
  if (mode == ParseMode::Default)
    if (std::optional<Statement> statement = fastParser.parse(tokens)) {
      script.statements.push_back(std::move(*statement));
      return;
    }
  SourceLoc start = locOf(tokens.front().get());
  size_t endIndex = tokens.size() - 1;
  StatementTokenSource source(std::move(tokens), lexer);
  antlr4::CommonTokenStream stream(&source);
  parser.setTokenStream(&stream); // also frees the previous statement's parse tree
  listener.startStatement();
  std::optional<Statement> statement;
  try {
    BPParser::StatementLineContext *tree = parser.statementLine();
    if (const std::optional<SyntaxError> &error = listener.error())
      reportSyntaxError(*error, endIndex, open, continued, stream);
    else
      statement = converter.convert(tree->statement());
  } catch (StackExhausted &) {
    diags.error(start, "expression is nested too deeply for the " + std::to_string(currentStackBytes() >> 20) +
                           " MiB stack bp runs on");
  }
  parser.setTokenStream(nullptr);
  if (statement)
    script.statements.push_back(std::move(*statement));
  else
    poison(declared);
}

/// Splits the token stream into statements. A newline ends a statement except inside brackets; there, a
/// line that starts with a keyword still begins a new statement (the unclosed one ends before it), so one
/// missing ')' or ']' does not swallow the rest of the script.
void ScriptParser::parseAll() {
  TokenList tokens;
  std::vector<OpenBracket> open;
  std::unique_ptr<antlr4::Token> heldNewline; // the first newline inside brackets, until the next line is seen
  bool continued = false;
  size_t statementTokens = 0, scriptTokens = 0;
  auto finish = [&](std::unique_ptr<antlr4::Token> end) {
    if (!tokens.empty()) {
      tokens.push_back(std::move(end));
      parseStatement(std::move(tokens), open, continued);
      tokens.clear();
    }
    open.clear();
    heldNewline.reset();
    continued = false;
    statementTokens = 0;
  };
  while (true) {
    std::unique_ptr<antlr4::Token> token =
        mode == ParseMode::AntlrOnly ? lexer.nextToken() : scriptLexer.nextToken();
    size_t type = token->getType();
    if (!open.empty() && type == BPLexer::NEWLINE) {
      if (!heldNewline)
        heldNewline = std::move(token);
      continue;
    }
    if (heldNewline) {
      if (isKeyword(type) || type == antlr4::Token::EOF) {
        finish(std::move(heldNewline));
      } else {
        heldNewline.reset();
        continued = true;
      }
    }
    if (isStatementEnd(type)) {
      finish(std::move(token));
      if (type == antlr4::Token::EOF)
        return;
      continue;
    }
    if (++scriptTokens > MaxScriptTokens) {
      diags.error(locOf(token.get()), "script has more than " + std::to_string(MaxScriptTokens) + " tokens");
      return;
    }
    if (type == openParen || type == openBracket)
      open.push_back({type == openParen ? '(' : '[', locOf(token.get())});
    else if ((type == closeParen || type == closeBracket) && !open.empty())
      open.pop_back();
    if (++statementTokens <= MaxStatementTokens) {
      tokens.push_back(std::move(token));
      continue;
    }
    if (!tokens.empty()) { // the first token too many: report, then skip to the statement's end
      diags.error(locOf(tokens.front().get()), "statement has more than " + std::to_string(MaxStatementTokens) +
                                                   " tokens; split it into several nodes");
      poison(declaredName(tokens));
      tokens.clear();
    }
  }
}

} // namespace

unsigned bp::nestingLimit() {
  size_t stack = currentStackBytes();
  if (stack == 0 || stack >= LargeStackBytes)
    return MaxNestingDepth;
  return static_cast<unsigned>(MaxNestingDepth * (static_cast<double>(stack) / LargeStackBytes));
}

Script bp::parseScript(const SourceFileRef &file, DiagnosticEngine &diags, ParseMode mode) {
  PhaseTimer timer("parse");
  Script script;
  script.file = file;
  runWithLargeStack([&] { ScriptParser(file, diags, script, mode).parseAll(); });
  return script;
}
