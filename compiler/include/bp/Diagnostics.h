//===- Diagnostics.h - Clang-style error reporting --------------*- C++ -*-===//
//
// Diagnostics travel through the library inside an llvm::Error (DiagnosticError) and are rendered only by
// the command-line tool, in clang's form:
//
//   nested.bp:4:14: error: use of undefined name 'e'
//   node f = d * e
//                ^
//
//===----------------------------------------------------------------------===//
#ifndef BP_DIAGNOSTICS_H
#define BP_DIAGNOSTICS_H

#include "bp/Source.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace bp {

enum class Severity { Error, Warning, Note };

struct Diagnostic {
  Severity severity = Severity::Error;
  SourceLoc loc;        // may be invalid: then only the file name is shown
  std::string message;  // lower-case, no final period
};

/// Collects diagnostics for one file; converts to an llvm::Error when any error was reported.
class DiagnosticEngine {
public:
  explicit DiagnosticEngine(SourceFileRef file) : file(std::move(file)) {}

  void error(SourceLoc loc, std::string message) {
    diagnostics.push_back({Severity::Error, loc, std::move(message)});
  }
  void note(SourceLoc loc, std::string message) {
    diagnostics.push_back({Severity::Note, loc, std::move(message)});
  }
  bool hasErrors() const;
  const SourceFileRef &sourceFile() const { return file; }

  /// Error::success() when no error was reported, else a DiagnosticError holding everything reported.
  llvm::Error takeError();

private:
  SourceFileRef file;
  std::vector<Diagnostic> diagnostics;
};

/// An llvm::Error payload: one or more diagnostics about one file (or about no file at all).
class DiagnosticError : public llvm::ErrorInfo<DiagnosticError> {
public:
  static char ID;

  DiagnosticError(SourceFileRef file, std::vector<Diagnostic> diagnostics)
      : file(std::move(file)), diagnostics(std::move(diagnostics)) {}

  const std::vector<Diagnostic> &getDiagnostics() const { return diagnostics; }
  const SourceFileRef &getFile() const { return file; }

  /// Renders every diagnostic in clang's form, each ending with a newline.
  void log(llvm::raw_ostream &os) const override;
  std::error_code convertToErrorCode() const override { return llvm::inconvertibleErrorCode(); }

private:
  SourceFileRef file;
  std::vector<Diagnostic> diagnostics;
};

/// A single error at `loc` in `file`.
llvm::Error makeDiagnosticError(SourceFileRef file, SourceLoc loc, std::string message);

/// A single error naming a file that could not be read (no source text to show).
llvm::Error makeFileError(const std::string &fileName, std::string message);

/// Renders one diagnostic: "file:line:col: error: message", then the line and a caret under the column.
void printDiagnostic(llvm::raw_ostream &os, const SourceFile *file, const std::string &fileName,
                     const Diagnostic &diagnostic);

} // namespace bp

#endif // BP_DIAGNOSTICS_H
