//===- ScriptRewriter.h - Writing new values back into a script -*- C++ -*-===//
#ifndef BP_SCRIPTREWRITER_H
#define BP_SCRIPTREWRITER_H

#include "bp/Source.h"

#include "llvm/Support/Error.h"

#include <map>
#include <string>
#include <vector>

namespace bp {

/// The text of `file` with the value of each named input or param replaced by `values[name]` (shortest
/// round-trip form; one number for a scalar, a tensor's elements row-major, written as a nested literal with
/// a matrix's rows on lines of their own); everything else, comments and layout included, is unchanged. An
/// input declared without a default gets one. Fails if the script does not parse, does not declare one of the
/// names, or declares it with another number of elements.
llvm::Expected<std::string> rewriteValues(const SourceFileRef &file,
                                          const std::map<std::string, std::vector<double>> &values);

} // namespace bp

#endif // BP_SCRIPTREWRITER_H
