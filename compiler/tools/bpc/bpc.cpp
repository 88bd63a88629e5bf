//===- bpc.cpp - The bp compiler driver ------------------------------------===//
//
// Parses the command line and hands each subcommand its options; nothing else. Exit status: 0 success,
// 1 a diagnostic or failed check, 2 a usage error (unknown subcommand or option, malformed value).
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>

#include <iostream>

using namespace bpc;

namespace {

constexpr const char *Version = "0.1.0";

CLI::App *addScriptCommand(CLI::App &app, const char *name, const char *description, Options &options) {
  CLI::App *command = app.add_subcommand(name, description);
  command->add_option("FILE", options.file, "the .bp script")->required();
  return command;
}

void addSetOption(CLI::App *command, Options &options) {
  command->add_option("--set", options.sets, "give an input or param a value (repeatable)")
      ->type_name("NAME=VALUE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void addOptLevelOption(CLI::App *command, Options &options) {
  command->add_option("-O", options.optLevel, "LLVM optimization level: -O0, -O1, -O2 (default) or -O3")
      ->type_name("LEVEL")
      ->check(CLI::Range(0u, 3u));
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  Options options;
  CLI::App app{"bpc: the bp compiler. Differentiates .bp scripts by backpropagation and compiles them with LLVM.",
               "bpc"};
  app.set_version_flag("--version", std::string("bpc ") + Version + " (LLVM " LLVM_VERSION_STRING ")");
  app.require_subcommand(1);
  app.footer("Run 'bpc SUBCOMMAND --help' for a subcommand's options.");

  CLI::App *check = addScriptCommand(app, "check", "parse and check a script; print nothing if it is valid", options);
  CLI::App *graph = addScriptCommand(app, "graph", "print a script's IR graph", options);
  graph->add_flag("--dot", options.dot, "print Graphviz DOT instead of text");
  graph->add_flag("--grad", options.grad, "print the gradient graph (forward and backward nodes)");

  CLI::App *run = addScriptCommand(app, "run", "evaluate a script's outputs (and gradients) with the JIT", options);
  addSetOption(run, options);
  run->add_flag("--grad", options.grad, "also print d output / d x for every input and param");
  run->add_flag("--json", options.json, "print one JSON object");
  addOptLevelOption(run, options);

  CLI::App *emitLLVM = addScriptCommand(app, "emit-llvm", "print the LLVM IR of the forward and gradient functions",
                                        options);
  addOptLevelOption(emitLLVM, options);

  CLI::App *explain = addScriptCommand(
      app, "explain", "walk through the forward pass and the chain rule, step by step, with numbers", options);
  addSetOption(explain, options);

  CLI::App *gradcheck = addScriptCommand(
      app, "gradcheck", "compare every gradient with central finite differences; exit 1 on a mismatch", options);
  addSetOption(gradcheck, options);
  gradcheck->add_option("--tolerance", options.tolerance, "largest error accepted (default 1e-6)")
      ->type_name("T");
  addOptLevelOption(gradcheck, options);

  CLI::App *build = addScriptCommand(
      app, "build", "compile a script to a native object file (or assembly, or LLVM IR) and a C header", options);
  build->add_option("-o", options.output, "the object file to write (default: STEM.o in this folder)")
      ->type_name("OUT.o");
  build->add_option("--header", options.header, "the C header to write (default: the -o path with .h)")
      ->type_name("OUT.h");
  build->add_option("--name", options.name, "the C function prefix (default: the file's stem)")->type_name("PREFIX");
  build->add_option("--target", options.target, "an LLVM target triple, e.g. aarch64-linux-gnu (default: this machine)")
      ->type_name("TRIPLE");
  build->add_option("--emit", options.emit, "what to write: obj (default), asm or llvm")
      ->type_name("KIND")
      ->check(CLI::IsMember({"obj", "asm", "llvm"}));
  addOptLevelOption(build, options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    std::cerr << "bpc: error: " << e.what() << "\nRun 'bpc --help' for usage.\n";
    return ExitUsage;
  }

  if (*check)
    return checkCommand(options);
  if (*graph)
    return graphCommand(options);
  if (*run)
    return runCommand(options);
  if (*emitLLVM)
    return emitLLVMCommand(options);
  if (*explain)
    return explainCommand(options);
  if (*gradcheck)
    return gradcheckCommand(options);
  if (*build)
    return buildCommand(options);
  return ExitUsage;
}
