//===- Parser.cpp - ANTLR parse tree to syntax tree ------------------------===//
//
// Owns everything between the script's text and the AST: lexing with the ANTLR lexer generated from
// grammar/BP.g4, parsing one statement at a time, turning ANTLR's syntax errors into messages a user
// understands, and converting parse trees into bp::Script.
//
//===----------------------------------------------------------------------===//
#include "bp/Parser.h"
#include "bp/LargeStack.h"

#include "BPLexer.h"
#include "BPParser.h"
#include "antlr4-runtime.h"

#include "llvm/ADT/StringExtras.h"

#include <cerrno>
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
    if (isKeyword(token->getType()))
      return "keyword '" + text + "'";
    return "'" + text + "'";
  }
}

/// Words for the set of tokens the parser would have accepted: groups such as "an expression" instead of
/// a raw list of token names.
std::string describeExpected(const antlr4::misc::IntervalSet &expected, const antlr4::dfa::Vocabulary &vocab) {
  auto has = [&](size_t type) { return expected.contains(type); };
  std::vector<std::string> parts;
  std::vector<size_t> covered;
  auto cover = [&](std::initializer_list<size_t> types, const char *words) {
    parts.push_back(words);
    covered.insert(covered.end(), types);
  };
  size_t minus = 0, plus = 0, star = 0, slash = 0, caret = 0, lparen = 0, equals = 0;
  for (size_t type = 1; type <= vocab.getMaxTokenType(); ++type) {
    std::string literal = vocab.getLiteralName(type);
    if (literal == "'-'") minus = type;
    else if (literal == "'+'") plus = type;
    else if (literal == "'*'") star = type;
    else if (literal == "'/'") slash = type;
    else if (literal == "'^'") caret = type;
    else if (literal == "'('") lparen = type;
    else if (literal == "'='") equals = type;
  }
  if (has(BPLexer::INPUT) && has(BPLexer::PARAM) && has(BPLexer::NODE) && has(BPLexer::OUTPUT) &&
      has(BPLexer::DEF) && !has(BPLexer::ID))
    cover({BPLexer::INPUT, BPLexer::PARAM, BPLexer::NODE, BPLexer::OUTPUT, BPLexer::DEF},
          "a statement ('input', 'param', 'node', 'output' or 'def')");
  if (has(BPLexer::NUMBER) && has(BPLexer::ID) && has(lparen))
    cover({BPLexer::NUMBER, BPLexer::ID, lparen, minus}, "an expression");
  else if (has(BPLexer::ID))
    cover({BPLexer::ID, BPLexer::INPUT, BPLexer::PARAM, BPLexer::NODE, BPLexer::OUTPUT, BPLexer::DEF},
          "a name");
  if (has(BPLexer::NUMBER) && !has(BPLexer::ID))
    cover({BPLexer::NUMBER, minus, plus}, "a number");
  if (has(plus) && has(minus) && has(star) && has(slash))
    cover({plus, minus, star, slash, caret}, "an operator");
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

/// Records the first syntax error of the statement being parsed, in bp's words.
class SyntaxErrorListener : public antlr4::BaseErrorListener {
public:
  explicit SyntaxErrorListener(DiagnosticEngine &diags) : diags(diags) {}

  void startStatement() { reported = false; }
  bool sawError() const { return reported; }

  void syntaxError(antlr4::Recognizer *recognizer, antlr4::Token *offending, size_t, size_t,
                   const std::string &, std::exception_ptr e) override {
    if (reported || !offending)
      return;
    reported = true;
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
    diags.error(locOf(offending), "expected " + describeExpected(expected, parser->getVocabulary()) +
                                      ", found " + describeToken(offending));
  }

private:
  DiagnosticEngine &diags;
  bool reported = false;
};

/// Converts the parse tree of one statement into AST form, reporting bad number literals.
class TreeConverter {
public:
  explicit TreeConverter(DiagnosticEngine &diags) : diags(diags) {}

  std::optional<Statement> convert(BPParser::StatementContext *ctx) {
    failed = false;
    Statement statement;
    statement.loc = locOf(ctx->getStart());
    if (auto *input = dynamic_cast<BPParser::InputStatementContext *>(ctx)) {
      InputDecl decl{name(input->declName()), std::nullopt, {}};
      if (input->signedNumber()) {
        decl.defaultValue = signedNumber(input->signedNumber());
        decl.valueSpan = span(input->signedNumber());
      } else {
        decl.valueSpan.loc = decl.name.loc;
        decl.valueSpan.loc.column += static_cast<uint32_t>(decl.name.text.size());
      }
      statement.kind = std::move(decl);
    } else if (auto *param = dynamic_cast<BPParser::ParamStatementContext *>(ctx)) {
      statement.kind = ParamDecl{name(param->declName()), signedNumber(param->signedNumber()),
                                 span(param->signedNumber())};
    } else if (auto *node = dynamic_cast<BPParser::NodeStatementContext *>(ctx)) {
      statement.kind = NodeDecl{name(node->declName()), expr(node->expr())};
    } else if (auto *output = dynamic_cast<BPParser::OutputStatementContext *>(ctx)) {
      OutputDecl decl;
      for (auto *outputName : output->outputName())
        decl.names.push_back({outputName->getText(), locOf(outputName->getStart())});
      statement.kind = std::move(decl);
    } else if (auto *def = dynamic_cast<BPParser::DefStatementContext *>(ctx)) {
      DefDecl decl{name(def->declName()), {}, expr(def->expr())};
      if (def->defParams())
        for (auto *param : def->defParams()->declName())
          decl.params.push_back(name(param));
      statement.kind = std::move(decl);
    }
    if (failed)
      return std::nullopt;
    return statement;
  }

private:
  Name name(BPParser::DeclNameContext *ctx) { return {ctx->getText(), locOf(ctx->getStart())}; }

  double number(antlr4::Token *token, bool negative) {
    const std::string &text = token->getText();
    errno = 0;
    double value = std::strtod(text.c_str(), nullptr);
    if (errno == ERANGE && std::isinf(value)) {
      diags.error(locOf(token), "number '" + text + "' is too large to be represented as a double");
      failed = true;
    }
    return negative ? -value : value;
  }

  /// The columns a signed number covers (a sign and its number may be apart: `- 5`).
  static ValueSpan span(BPParser::SignedNumberContext *ctx) {
    antlr4::Token *first = ctx->getStart(), *last = ctx->getStop();
    SourceLoc loc = locOf(first);
    uint32_t end = locOf(last).column + static_cast<uint32_t>(last->getText().size());
    return {loc, end - loc.column};
  }

  double signedNumber(BPParser::SignedNumberContext *ctx) {
    return number(ctx->NUMBER()->getSymbol(), ctx->sign && ctx->sign->getText() == "-");
  }

  static ExprPtr make(SourceLoc loc, decltype(Expr::kind) kind) {
    return std::make_unique<Expr>(Expr{loc, std::move(kind)});
  }

  ExprPtr expr(BPParser::ExprContext *ctx) {
    auto terms = ctx->term();
    if (terms.size() == 1)
      return term(terms[0]);
    ChainExpr chain{term(terms[0]), {}};
    chain.rest.reserve(terms.size() - 1);
    for (size_t i = 1; i < terms.size(); ++i) {
      antlr4::Token *op = ctx->addOp[i - 1];
      chain.rest.push_back({op->getText()[0], locOf(op), term(terms[i])});
    }
    SourceLoc loc = chain.rest[0].opLoc; // read before `chain` is moved from
    return make(loc, std::move(chain));
  }

  ExprPtr term(BPParser::TermContext *ctx) {
    auto factors = ctx->factor();
    if (factors.size() == 1)
      return factor(factors[0]);
    ChainExpr chain{factor(factors[0]), {}};
    chain.rest.reserve(factors.size() - 1);
    for (size_t i = 1; i < factors.size(); ++i) {
      antlr4::Token *op = ctx->mulOp[i - 1];
      chain.rest.push_back({op->getText()[0], locOf(op), factor(factors[i])});
    }
    SourceLoc loc = chain.rest[0].opLoc; // read before `chain` is moved from
    return make(loc, std::move(chain));
  }

  ExprPtr factor(BPParser::FactorContext *ctx) {
    auto *powerCtx = ctx->power();
    unsigned negations = static_cast<unsigned>(ctx->negs.size());
    // A negative literal is a constant, not a negation node: `-6` reads as the number -6 (bit-identical).
    auto *numberCtx = dynamic_cast<BPParser::NumberExprContext *>(powerCtx->primary());
    if (negations > 0 && numberCtx && powerCtx->powerTail().empty()) {
      bool negative = negations % 2 == 1;
      return make(locOf(ctx->negs[0]), NumberExpr{number(numberCtx->NUMBER()->getSymbol(), negative)});
    }
    ExprPtr operand = power(powerCtx);
    if (negations == 0)
      return operand;
    return make(locOf(ctx->negs[0]), NegateExpr{negations, std::move(operand)});
  }

  ExprPtr power(BPParser::PowerContext *ctx) {
    ExprPtr base = primary(ctx->primary());
    auto tails = ctx->powerTail();
    if (tails.empty())
      return base;
    PowerExpr chain{std::move(base), {}};
    for (auto *tail : tails)
      chain.exponents.push_back({locOf(tail->getStart()), static_cast<unsigned>(tail->negs.size()),
                                 primary(tail->primary())});
    SourceLoc loc = chain.exponents[0].opLoc;
    return make(loc, std::move(chain));
  }

  ExprPtr primary(BPParser::PrimaryContext *ctx) {
    SourceLoc loc = locOf(ctx->getStart());
    if (auto *numberCtx = dynamic_cast<BPParser::NumberExprContext *>(ctx))
      return make(loc, NumberExpr{number(numberCtx->NUMBER()->getSymbol(), false)});
    if (auto *nameCtx = dynamic_cast<BPParser::NameExprContext *>(ctx))
      return make(loc, NameExpr{nameCtx->ID()->getText()});
    if (auto *call = dynamic_cast<BPParser::CallExprContext *>(ctx)) {
      CallExpr callExpr{call->ID()->getText(), {}};
      for (auto *arg : call->expr())
        callExpr.args.push_back(expr(arg));
      return make(loc, std::move(callExpr));
    }
    auto *paren = static_cast<BPParser::ParenExprContext *>(ctx);
    return expr(paren->expr());
  }

  DiagnosticEngine &diags;
  bool failed = false;
};

/// Tokens that the grammar lexes only to report: an unknown character or a number with an empty exponent.
bool reportBadTokens(const std::vector<antlr4::Token *> &tokens, size_t begin, size_t end,
                     DiagnosticEngine &diags) {
  for (size_t i = begin; i < end; ++i) {
    antlr4::Token *token = tokens[i];
    if (token->getType() == BPLexer::UNKNOWN) {
      uint32_t cp = firstCodePoint(token->getText());
      char code[16];
      snprintf(code, sizeof code, "U+%04X", cp);
      std::string shown = cp < 0x20 || cp == 0x7F ? std::string(code) : "'" + encodeUtf8(cp) + "'";
      diags.error(locOf(token), "unexpected character " + shown);
      return true;
    }
    if (token->getType() == BPLexer::BAD_NUMBER) {
      diags.error(locOf(token), "malformed number '" + token->getText() + "': exponent has no digits");
      return true;
    }
  }
  return false;
}

/// Parentheses and calls are the only constructs the parser recurses on; refuse statements deeper than
/// MaxNestingDepth before parsing them.
bool reportDeepNesting(const std::vector<antlr4::Token *> &tokens, size_t begin, size_t end, size_t openType,
                       size_t closeType, DiagnosticEngine &diags) {
  unsigned depth = 0;
  for (size_t i = begin; i < end; ++i) {
    size_t type = tokens[i]->getType();
    if (type == openType && ++depth > MaxNestingDepth) {
      diags.error(locOf(tokens[i]), "expression is nested too deeply (more than " +
                                        std::to_string(MaxNestingDepth) + " levels of parentheses)");
      return true;
    }
    if (type == closeType && depth > 0)
      --depth;
  }
  return false;
}

/// The name a statement declares, read straight from its tokens (used when the statement itself failed).
void poisonDeclaredName(const std::vector<antlr4::Token *> &tokens, size_t begin, size_t end, Script &script) {
  if (end - begin < 2 || !isKeyword(tokens[begin]->getType()))
    return;
  if (tokens[begin]->getType() == BPLexer::OUTPUT)
    return;
  if (tokens[begin + 1]->getType() == BPLexer::ID)
    script.poisonedNames.push_back(tokens[begin + 1]->getText());
}

void parseAll(const SourceFileRef &file, DiagnosticEngine &diags, Script &script) {
  antlr4::ANTLRInputStream input(file->text());
  BPLexer lexer(&input);
  lexer.removeErrorListeners(); // UNKNOWN catches every character no other rule matches
  antlr4::CommonTokenStream stream(&lexer);
  stream.fill();
  std::vector<antlr4::Token *> tokens = stream.getTokens();

  // The token types of '(' and ')' (implicit literal tokens in the grammar), looked up once.
  size_t openType = 0, closeType = 0;
  const antlr4::dfa::Vocabulary &vocabulary = lexer.getVocabulary();
  for (size_t type = 1; type <= vocabulary.getMaxTokenType(); ++type) {
    if (vocabulary.getLiteralName(type) == "'('")
      openType = type;
    if (vocabulary.getLiteralName(type) == "')'")
      closeType = type;
  }

  BPParser parser(&stream);
  parser.removeErrorListeners();
  SyntaxErrorListener listener(diags);
  parser.addErrorListener(&listener);
  TreeConverter converter(diags);

  size_t begin = 0;
  while (begin < tokens.size()) {
    if (isStatementEnd(tokens[begin]->getType())) {
      ++begin;
      continue;
    }
    size_t end = begin;
    while (!isStatementEnd(tokens[end]->getType()))
      ++end;
    if (reportBadTokens(tokens, begin, end, diags) || reportDeepNesting(tokens, begin, end, openType, closeType, diags)) {
      poisonDeclaredName(tokens, begin, end, script);
      begin = end + 1;
      continue;
    }
    parser.reset();
    stream.seek(begin);
    listener.startStatement();
    BPParser::StatementLineContext *tree = parser.statementLine();
    std::optional<Statement> statement;
    if (!listener.sawError())
      statement = converter.convert(tree->statement());
    if (statement)
      script.statements.push_back(std::move(*statement));
    else
      poisonDeclaredName(tokens, begin, end, script);
    begin = end + 1;
  }
}

} // namespace

Script bp::parseScript(const SourceFileRef &file, DiagnosticEngine &diags) {
  Script script;
  script.file = file;
  runWithLargeStack([&] { parseAll(file, diags, script); });
  return script;
}
