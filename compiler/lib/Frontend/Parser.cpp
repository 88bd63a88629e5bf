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

/// Thrown from a recursion that has run out of stack; caught where the statement's parse started.
struct StackExhausted {};

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

  static ExprPtr make(SourceLoc loc, Expr::Kind kind) {
    return std::make_unique<Expr>(loc, std::move(kind));
  }

  static bool isProductOp(antlr4::Token *op) {
    char c = op->getText()[0];
    return c == '*' || c == '/';
  }

  /// The grammar leaves `a + b * c - d` as one flat list; precedence is applied here: each maximal run of
  /// '*' and '/' becomes one product chain, and the products form the sum chain.
  ExprPtr expr(BPParser::ExprContext *ctx) {
    if (stackNearlyExhausted())
      throw StackExhausted{};
    std::vector<BPParser::FactorContext *> factors = ctx->factor();
    const std::vector<antlr4::Token *> &ops = ctx->binOp; // ops[i] stands between factors i and i + 1
    size_t next = 0;
    auto chain = [&](ExprPtr first, auto operand, bool products) {
      if (next == factors.size() || isProductOp(ops[next - 1]) != products)
        return first;
      ChainExpr chain{std::move(first), {}};
      while (next < factors.size() && isProductOp(ops[next - 1]) == products) {
        antlr4::Token *op = ops[next - 1];
        ExprPtr rhs = operand();
        chain.rest.push_back({op->getText()[0], locOf(op), std::move(rhs)});
      }
      SourceLoc loc = chain.rest[0].opLoc; // read before `chain` is moved from
      return make(loc, std::move(chain));
    };
    auto product = [&] {
      auto nextFactor = [&] { return factor(factors[next++]); };
      return chain(nextFactor(), nextFactor, true);
    };
    return chain(product(), product, false);
  }

  ExprPtr factor(BPParser::FactorContext *ctx) {
    unsigned negations = static_cast<unsigned>(ctx->negs.size());
    std::vector<BPParser::PowerTailContext *> tails = ctx->powerTail();
    // A negative literal is a constant, not a negation node: `-6` reads as the number -6 (bit-identical).
    auto *numberCtx = dynamic_cast<BPParser::NumberExprContext *>(ctx->primary());
    if (negations > 0 && numberCtx && tails.empty()) {
      bool negative = negations % 2 == 1;
      return make(locOf(ctx->negs[0]), NumberExpr{number(numberCtx->NUMBER()->getSymbol(), negative)});
    }
    ExprPtr operand = power(ctx->primary(), tails);
    if (negations == 0)
      return operand;
    return make(locOf(ctx->negs[0]), NegateExpr{negations, std::move(operand)});
  }

  ExprPtr power(BPParser::PrimaryContext *baseCtx, const std::vector<BPParser::PowerTailContext *> &tails) {
    ExprPtr base = primary(baseCtx);
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

using TokenList = std::vector<std::unique_ptr<antlr4::Token>>;

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

/// Lexes a script and parses it one statement at a time into `script`.
class ScriptParser {
public:
  ScriptParser(const SourceFileRef &file, DiagnosticEngine &diags, Script &script)
      : input(file->text()), lexer(&input), parser(nullptr), listener(diags), converter(diags), diags(diags),
        script(script), nestingLimit(bp::nestingLimit()) {
    lexer.removeErrorListeners(); // UNKNOWN catches every character no other rule matches
    parser.removeErrorListeners();
    parser.addErrorListener(&listener);
    // The token types of '(' and ')' (implicit literal tokens in the grammar), looked up once.
    const antlr4::dfa::Vocabulary &vocabulary = lexer.getVocabulary();
    for (size_t type = 1; type <= vocabulary.getMaxTokenType(); ++type) {
      if (vocabulary.getLiteralName(type) == "'('")
        openType = type;
      if (vocabulary.getLiteralName(type) == "')'")
        closeType = type;
    }
  }

  void parseAll();

private:
  bool reportBadTokens(const TokenList &tokens);
  bool reportDeepNesting(const TokenList &tokens);
  void poison(const std::string &name) {
    if (!name.empty())
      script.poisonedNames.push_back(name);
  }
  void parseStatement(TokenList tokens);

  antlr4::ANTLRInputStream input;
  BPLexer lexer;
  GuardedParser parser;
  SyntaxErrorListener listener;
  TreeConverter converter;
  DiagnosticEngine &diags;
  Script &script;
  unsigned nestingLimit;
  size_t openType = 0, closeType = 0;
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

/// Parentheses and calls are the only constructs the parser recurses on; refuse statements deeper than the
/// nesting limit before parsing them.
bool ScriptParser::reportDeepNesting(const TokenList &tokens) {
  unsigned depth = 0;
  for (const auto &token : tokens) {
    size_t type = token->getType();
    if (type == openType && ++depth > nestingLimit) {
      std::string message = "expression is nested too deeply (more than " + std::to_string(nestingLimit) +
                            " levels of parentheses";
      if (nestingLimit < MaxNestingDepth)
        message += "; the system allowed bp only a " + std::to_string(currentStackBytes() >> 20) + " MiB stack";
      diags.error(locOf(token.get()), message + ")");
      return true;
    }
    if (type == closeType && depth > 0)
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

/// Parses one statement: `tokens` ends with the token that ends it.
void ScriptParser::parseStatement(TokenList tokens) {
  std::string declared = declaredName(tokens);
  if (reportBadTokens(tokens) || reportDeepNesting(tokens))
    return poison(declared);
  SourceLoc start = locOf(tokens.front().get());
  StatementTokenSource source(std::move(tokens), lexer);
  antlr4::CommonTokenStream stream(&source);
  parser.setTokenStream(&stream); // also frees the previous statement's parse tree
  listener.startStatement();
  std::optional<Statement> statement;
  try {
    BPParser::StatementLineContext *tree = parser.statementLine();
    if (!listener.sawError())
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

void ScriptParser::parseAll() {
  TokenList tokens;
  size_t statementTokens = 0, scriptTokens = 0;
  while (true) {
    std::unique_ptr<antlr4::Token> token = lexer.nextToken();
    size_t type = token->getType();
    if (!isStatementEnd(type)) {
      if (++scriptTokens > MaxScriptTokens) {
        diags.error(locOf(token.get()), "script has more than " + std::to_string(MaxScriptTokens) + " tokens");
        return;
      }
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
      continue;
    }
    if (!tokens.empty()) {
      tokens.push_back(std::move(token));
      parseStatement(std::move(tokens));
      tokens.clear();
    }
    statementTokens = 0;
    if (type == antlr4::Token::EOF)
      return;
  }
}

} // namespace

unsigned bp::nestingLimit() {
  size_t stack = currentStackBytes();
  if (stack == 0 || stack >= LargeStackBytes)
    return MaxNestingDepth;
  return static_cast<unsigned>(MaxNestingDepth * (static_cast<double>(stack) / LargeStackBytes));
}

Script bp::parseScript(const SourceFileRef &file, DiagnosticEngine &diags) {
  Script script;
  script.file = file;
  runWithLargeStack([&] { ScriptParser(file, diags, script).parseAll(); });
  return script;
}
