//===- ScriptRewriter.h - Writing new values back into a script -*- C++ -*-===//
#ifndef BP_SCRIPTREWRITER_H
#define BP_SCRIPTREWRITER_H

#include "bp/Source.h"

#include "llvm/Support/Error.h"

#include <map>
#include <string>

namespace bp {

/// The text of `file` with the value of each named input or param replaced by `values[name]` (shortest
/// round-trip form); everything else, comments and layout included, is unchanged. An input declared without
/// a default gets one. Fails if the script does not parse or does not declare one of the names.
llvm::Expected<std::string> rewriteValues(const SourceFileRef &file, const std::map<std::string, double> &values);

} // namespace bp

#endif // BP_SCRIPTREWRITER_H
