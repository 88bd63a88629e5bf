//===- bpc.cpp - The bp compiler driver ------------------------------------===//
//
// Parses the command line and hands each subcommand its options; nothing else. Exit status: 0 success,
// 1 a diagnostic or failed check, 2 a usage error (unknown subcommand or option, malformed value).
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "OutputFile.h"

#include "bp/JIT.h"
#include "bp/PhaseTimes.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <CLI/CLI.hpp>

#include <cctype>
#include <charconv>
#include <cstdint>

using namespace bpc;

namespace {

constexpr const char *Version = "0.1.0";

CLI::App *addScriptCommand(CLI::App &app, const char *name, const char *description, Options &options) {
  CLI::App *command = app.add_subcommand(name, description);
  command->add_option("FILE", options.file, "the .bp script")->required();
  command->add_flag_callback("--time-phases", bp::enablePhaseTimes,
                             "diagnostic: print the time each compiler phase took (read, parse, graph, autodiff, "
                             "simplify) and the total to stderr at exit");
  return command;
}

void addSetOption(CLI::App *command, Options &options) {
  command->add_option("--set", options.sets, "give an input or param a value (repeatable)")
      ->type_name("NAME=VALUE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

/// A whole number in decimal digits that fits in 64 bits (CLI11 alone would let "-3" wrap around).
CLI::Validator wholeNumber(bool allowZero) {
  return CLI::Validator(
      [allowZero](std::string &text) -> std::string {
        uint64_t value = 0;
        auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits || end != text.data() + text.size())
          return "'" + text + "' is not a whole number";
        if (error == std::errc::result_out_of_range)
          return "'" + text + "' is too large (at most " + std::to_string(UINT64_MAX) + ")";
        if (!allowZero && value == 0)
          return "must be at least 1";
        return "";
      },
      "");
}

/// The subcommand a mistyped word was meant to be, if one is close ("runn" -> "run").
std::string closestSubcommand(const CLI::App &app, llvm::StringRef word) {
  std::string best;
  unsigned bestDistance = 3;
  for (const CLI::App *command : app.get_subcommands({})) {
    unsigned distance = word.edit_distance(command->get_name(), true, bestDistance);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = command->get_name();
    }
  }
  return best;
}

/// A command line error in bp's words: CLI11's message with a lower-case first letter, and for a missing
/// subcommand, what the first argument was instead.
std::string describeUsageError(const CLI::App &app, const CLI::ParseError &error, int argc, char **argv) {
  std::string message = error.what();
  bool noSubcommand = app.get_subcommands().empty() && dynamic_cast<const CLI::RequiredError *>(&error);
  if (noSubcommand && argc > 1) {
    llvm::StringRef first = argv[1];
    if (first.starts_with("-"))
      return "unknown option '" + first.str() + "'";
    std::string guess = closestSubcommand(app, first);
    return "unknown subcommand '" + first.str() + "'" + (guess.empty() ? "" : "; did you mean '" + guess + "'?");
  }
  if (noSubcommand)
    return "no subcommand given";
  // "The following argument..." reads "the following argument..."; a name such as "FILE" stays as it is.
  if (message.size() > 1 && std::islower(static_cast<unsigned char>(message[1])))
    message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
  return message;
}

/// A path or name that must not be empty: an empty one would silently mean the default.
CLI::Validator nonEmpty() {
  return CLI::Validator([](std::string &text) { return text.empty() ? std::string("must not be empty") : ""; },
                        "");
}

/// --data FILE.csv and how its columns bind inputs; `use` says what the command does with the rows.
/// --data, --columns and --ignore-columns, which bind rows of a data file to inputs (`use`: what is done with them).
std::vector<CLI::Option *> addDataOptions(CLI::App *command, Options &options, const std::string &use) {
  return {command
              ->add_option("--data", options.data,
                           "CSV (or .csv.gz) whose header names inputs (x[0], x[1]... for a tensor's elements); " + use)
              ->type_name("FILE.csv"),
          command
              ->add_option("--columns", options.columns,
                           "the file has no header: these inputs' elements take its columns left to right")
              ->delimiter(',')
              ->type_name("x,label"),
          command->add_option("--ignore-columns", options.ignoreColumns, "header columns to skip")
              ->delimiter(',')
              ->type_name("a,b")};
}

/// --of and --wrt: the outputs and the inputs and params whose part of the gradient is computed.
/// (With `needs`, only beside that option.)
void addSelectionOptions(CLI::App *command, Options &options, CLI::Option *needs = nullptr) {
  CLI::Option *of = command->add_option("--of", options.of, "differentiate only these outputs (default: every one)")
                        ->delimiter(',')
                        ->type_name("OUT,...");
  CLI::Option *wrt =
      command->add_option("--wrt", options.wrt, "differentiate only by these inputs and params (default: every one)")
          ->delimiter(',')
          ->type_name("a,W,...");
  if (needs) {
    of->needs(needs);
    wrt->needs(needs);
  }
}

void addOptLevelOption(CLI::App *command, Options &options) {
  command->add_option("-O", options.optLevel, "LLVM optimization level: -O0, -O1, -O2 (default) or -O3")
      ->type_name("LEVEL")
      ->check(CLI::Range(0u, 3u));
}

/// -j of the commands that compile to machine code (CodeGen.h, compileObjects).
void addThreadsOption(CLI::App *command, Options &options) {
  command->add_option("-j,--jobs", options.threads,
                      "threads that optimize and compile a large script (default: every core); the code is the same")
      ->type_name("N")
      ->check(CLI::Range(1u, 1024u));
}

/// --emit-fn of build and emit-llvm.
void addEmitFunctionsOption(CLI::App *command, Options &options) {
  command->add_option("--emit-fn", options.emitFunctions,
                      "the derivative functions to compile beside PREFIX_forward, comma-separated: gradient, jvp, "
                      "vjp, hessian, hvp (default: gradient)")
      ->type_name("LIST")
      ->delimiter(',')
      ->check(CLI::IsMember({"gradient", "jvp", "vjp", "hessian", "hvp"}));
}

/// --no-cache and --cache-size of the commands that JIT-compile (CompileCache.h).
void addCacheOptions(CLI::App *command, Options &options) {
  CLI::Option *noCache = command->add_flag(
      "--no-cache", options.noCache,
      "compile the script again, neither loading nor storing its object in the compile cache ($BP_CACHE_DIR, "
      "else $XDG_CACHE_HOME/bp or ~/.cache/bp)");
  command->add_option("--cache-size", options.cacheSize,
                      "MiB the compile cache keeps at most, least recently used entries evicted first (default 256)")
      ->type_name("MIB")
      ->check(wholeNumber(true))
      ->excludes(noCache);
}

/// --trace-nonfinite, and with `strict` --strict: how a result that is not finite is reported.
void addNonFiniteOptions(CLI::App *command, Options &options, bool strict) {
  command->add_flag("--trace-nonfinite", options.traceNonFinite,
                    "where a result is not finite, also list every value that is not finite, in evaluation "
                    "order, each with the one it came from");
  if (strict)
    command->add_flag("--strict", options.strict, "exit 1 where a result is not finite (a NaN or an infinity)");
}

/// The options that describe a training step (for `train` and `build --train-step`), all of them and --vars.
struct TrainStepOptions {
  std::vector<CLI::Option *> all;
  CLI::Option *vars;
};

/// Adds the options that describe a training step: the objective (into `minimize` or `maximize`), the update
/// and the rows' columns.
TrainStepOptions addTrainStepOptions(CLI::App *command, Options &options, std::string &minimize,
                                     std::string &maximize) {
  CLI::Option *minimizeOption = command->add_option("--minimize", minimize, "the output to make smaller")
                                    ->type_name("OUTPUT");
  CLI::Option *maximizeOption = command->add_option("--maximize", maximize, "the output to make larger")
                                    ->type_name("OUTPUT");
  minimizeOption->excludes(maximizeOption);
  CLI::Option *rate = command->add_option("--rate", options.rate, "step size (default 0.01)")->type_name("R");
  CLI::Option *vars =
      command->add_option("--vars", options.vars, "the inputs/params to train, comma-separated (default: every param)")
          ->type_name("a,b,...");
  std::vector<CLI::Option *> all = {minimizeOption, maximizeOption, rate, vars};
  for (CLI::Option *data : addDataOptions(command, options, "each step uses the mean gradient over rows"))
    all.push_back(data);
  all.push_back(command->add_option("--optimizer", options.optimizer, "sgd (default), momentum or adam")
                    ->type_name("NAME")
                    ->check(CLI::IsMember({"sgd", "momentum", "adam"})));
  return {all, vars};
}

/// Sets options.objective and options.maximize from --minimize/--maximize; false (after printing the usage
/// error: "`what` needs ...") if neither was given.
bool setObjective(Options &options, const std::string &minimize, const std::string &maximize, const char *what,
                  const CLI::App &command) {
  if (minimize.empty() && maximize.empty()) {
    llvm::errs() << "bpc: error: " << what << " needs --minimize OUTPUT or --maximize OUTPUT\nRun 'bpc "
                 << command.get_name() << " --help' for usage.\n";
    return false;
  }
  options.maximize = !maximize.empty();
  options.objective = options.maximize ? maximize : minimize;
  return true;
}

} // namespace

int main(int argc, char **argv) {
  std::vector<int> ignored = ignoredSignals();
  llvm::InitLLVM initLLVM(argc, argv);
  installCleanupHandlers(ignored);
  Options options;
  CLI::App app{"bpc: the bp compiler. Differentiates .bp scripts by backpropagation and compiles them with LLVM.",
               "bpc"};
  app.set_version_flag("--version", std::string("bpc ") + Version + " (LLVM " LLVM_VERSION_STRING ")");
  app.require_subcommand(1);
  app.footer("Run 'bpc SUBCOMMAND --help' for a subcommand's options.");

  CLI::App *check = addScriptCommand(app, "check", "parse and check a script; print nothing if it is valid", options);
  CLI::App *graph = addScriptCommand(app, "graph", "print a script's IR graph", options);
  graph->add_flag("--dot", options.dot, "print Graphviz DOT instead of text");
  CLI::Option *graphGrad =
      graph->add_flag("--grad", options.grad, "print the gradient graph (forward and backward nodes)");
  addSelectionOptions(graph, options, graphGrad);
  CLI::Option *graphValues = graph->add_flag(
      "--values", options.values,
      "show every node's value (with --grad, each forward node's grad: d output / d node of the first scalar "
      "output, or the --of one)");
  addSetOption(graph, options);
  graph->get_option("--set")->needs(graphValues);
  graph->add_option("--svg", options.svg, "draw the DOT with Graphviz's dot (found on PATH) into this SVG file")
      ->type_name("FILE.svg")
      ->check(nonEmpty());

  CLI::App *run = addScriptCommand(
      app, "run",
      "evaluate a script's outputs (and gradients), at its values or on each row of a data file",
      options);
  addSetOption(run, options);
  run->add_flag("--grad", options.grad,
                "also print d output / d x for every input and param (with --data, the mean over the rows, as "
                "train steps along, or each row's with --per-row)");
  run->add_flag("--json", options.json, "print one JSON object (with --per-row, one per row, a line each)");
  addDataOptions(run, options, "prints each output's mean over the rows");
  run->add_flag("--per-row", options.perRow, "with --data, print each row's outputs, not their means");
  run->add_option("--vjp", options.vjps,
                  "also print SEED^T J, the vector-Jacobian product of output OUT, for every input and param, as "
                  "vjp(OUT)/dX = ... (JSON: \"vjp\"); SEED is a number for a scalar output, a nested list of "
                  "the output's shape for a tensor one (repeatable, once per output; not with --data)")
      ->type_name("OUT=SEED")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  run->add_option("--jvp", options.jvps,
                  "also print J t, the directional derivative of every output along tangents t of the inputs and "
                  "params, as jvp(OUT) = ... (JSON: \"jvp\"), by forward mode; X=TANGENT pairs, comma-separated: "
                  "a number (filling a tensor) or a nested list of X's shape; X not named: 0 (not with --data)")
      ->type_name("X=TANGENT,...")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  run->add_option("--hessian", options.hessian,
                  "also print the Hessian of scalar output OUT by every input and param (--wrt: the chosen ones), "
                  "as d2OUT/dA dB = ... per pair, of shape A's shape + B's (JSON: \"hessian\"; not with --data)")
      ->type_name("OUT");
  run->add_option("--hvp", options.hvps,
                  "also print H v, the Hessian of scalar output OUT times directions v of the inputs and params "
                  "(--wrt: the chosen ones), as hvp(OUT)/dX = ... per argument (JSON: \"hvp\"), forward over "
                  "reverse, without forming H; X=V pairs as --jvp's, X not named: 0 (not with --data)")
      ->type_name("OUT X=V,...")
      ->type_size(2)
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  addSelectionOptions(run, options); // either implies --grad
  run->add_option("--seed", options.seed, "seed of normal() and uniform() initializers (default 0)")
      ->type_name("S")
      ->check(wholeNumber(true));
  addOptLevelOption(run, options);
  addThreadsOption(run, options);
  addNonFiniteOptions(run, options, true);
  addCacheOptions(run, options);
  run->add_option("--engine", options.engine,
                  "how outputs and gradients are evaluated: interpreter (no compile), jit (compiled by LLVM, "
                  "through the compile cache), or auto (default): the interpreter unless the evaluation's "
                  "tensor work pays for compiling; the numbers are the same bits")
      ->type_name("ENGINE")
      ->check(CLI::IsMember({"auto", "interpreter", "jit"}));

  CLI::App *emitLLVM = addScriptCommand(
      app, "emit-llvm", "print the LLVM IR of the forward and gradient functions (or those --emit-fn lists)", options);
  addOptLevelOption(emitLLVM, options);
  addEmitFunctionsOption(emitLLVM, options);
  addSelectionOptions(emitLLVM, options);

  CLI::App *explain = addScriptCommand(
      app, "explain", "walk through the forward pass and the chain rule, step by step, with numbers", options);
  addSetOption(explain, options);
  addSelectionOptions(explain, options);
  explain->add_option("--jvp", options.jvps,
                      "walk through the tangent pass of forward mode along tangents of the inputs and params, "
                      "instead of the backward pass (X=TANGENT pairs, as run --jvp)")
      ->type_name("X=TANGENT,...")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);

  CLI::App *gradcheck = addScriptCommand(
      app, "gradcheck", "compare every gradient with central finite differences; exit 1 on a mismatch", options);
  addSetOption(gradcheck, options);
  addSelectionOptions(gradcheck, options);
  gradcheck->add_option("--tolerance", options.tolerance, "largest error accepted (default 1e-6)")
      ->type_name("T");
  gradcheck
      ->add_option("--samples", options.samples,
                   "check N pairs drawn at random, for large tensors: (output element, argument element), or the "
                   "entries of --jvp, --vjp and --hessian (default: every one; N at least 1)")
      ->type_name("N")
      ->check(wholeNumber(false));
  gradcheck->add_option("--jvp", options.jvps,
                        "check J t, forward mode's directional derivative of every output, against central "
                        "differences along the tangents t (X=TANGENT pairs, as run --jvp), not the gradient")
      ->type_name("X=TANGENT,...")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  gradcheck->add_option("--vjp", options.vjps,
                        "check SEED^T J, output OUT's vector-Jacobian product, against the seeded sum of the central "
                        "differences (as run --vjp; repeatable), not the gradient")
      ->type_name("OUT=SEED")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  gradcheck->add_option("--hessian", options.hessian,
                        "check every entry of scalar output OUT's Hessian (by the --wrt arguments) against central "
                        "differences of the gradient, and its symmetry, not the gradient")
      ->type_name("OUT");
  gradcheck->add_option("--seed", options.seed, "seed of --samples' draw and of normal() and uniform() initializers (default 0)")
      ->type_name("S")
      ->check(wholeNumber(true));
  addOptLevelOption(gradcheck, options);
  addThreadsOption(gradcheck, options);
  addNonFiniteOptions(gradcheck, options, true);
  addCacheOptions(gradcheck, options);

  CLI::App *build = addScriptCommand(
      app, "build", "compile a script to a native object file (or assembly, or LLVM IR) and a C header", options);
  build->add_option("-o", options.output, "the object file to write (default: STEM.o in this folder)")
      ->type_name("OUT.o")
      ->check(nonEmpty());
  build->add_option("--header", options.header,
                    "the C header to write: prototypes, where each input, param and output starts in in[] and out[] "
                    "(a tensor's SIZE, RANK and SHAPE too), the script's values (default: the -o path with .h)")
      ->type_name("OUT.h")
      ->check(nonEmpty());
  build->add_option("--name", options.name, "the C function prefix (default: the file's stem)")
      ->type_name("PREFIX")
      ->check(nonEmpty());
  build->add_option("--target", options.target, "an LLVM target triple, e.g. aarch64-linux-gnu (default: this machine)")
      ->type_name("TRIPLE")
      ->check(nonEmpty());
  build->add_option("--emit", options.emit, "what to write: obj (default), asm or llvm")
      ->type_name("KIND")
      ->check(CLI::IsMember({"obj", "asm", "llvm"}));
  CLI::Option *sharedOption = build->add_flag(
      "--shared", options.shared,
      "link a shared object (default: STEM.so) holding the model and functions that describe it, bp_prefix() "
      "among them, for a loader without the header (the C compiler $CC, else cc, links it)");
  build->add_flag("--metadata", options.metadata,
                  "also compile the functions that describe the model (PREFIX_num_args, PREFIX_arg_name, ...)");
  sharedOption->excludes(build->get_option("--emit"));
  addEmitFunctionsOption(build, options);
  addOptLevelOption(build, options);
  addThreadsOption(build, options);
  addSelectionOptions(build, options);
  CLI::Option *trainStepOption = build->add_flag(
      "--train-step", options.trainStep,
      "also compile PREFIX_train_step, one training step over rows of data (needs --minimize or --maximize)");
  std::string minimize, maximize;
  TrainStepOptions buildStepOptions = addTrainStepOptions(build, options, minimize, maximize);
  for (CLI::Option *option : buildStepOptions.all)
    option->needs(trainStepOption);

  CLI::App *train = addScriptCommand(
      app, "train", "move params (or --vars) along their gradients to minimize or maximize an output", options);
  TrainStepOptions trainStepOptions = addTrainStepOptions(train, options, minimize, maximize);
  CLI::Option *stepsOption = train->add_option("--steps", options.steps, "number of updates (default 1)")
                                 ->type_name("N")
                                 ->check(wholeNumber(true));
  train->add_option("--epochs", options.epochs, "passes over the rows of --data, instead of --steps")
      ->type_name("E")
      ->check(wholeNumber(false))
      ->excludes(stepsOption);
  train->add_option("--valid", options.valid,
                    "held-out rows (bound as --data is): every output's mean over them, every --eval-every steps "
                    "and at the end")
      ->type_name("FILE.csv")
      ->check(nonEmpty());
  train->add_option("--eval-every", options.evalEvery,
                    "steps between evaluations on --valid (default: every epoch, or every tenth of the run)")
      ->type_name("K")
      ->check(wholeNumber(false));
  train->add_option("--batch", options.batch, "rows per step, taken in order and wrapping around (default: all)")
      ->type_name("B")
      ->check(wholeNumber(false));
  CLI::Option *seedOption = train->add_option("--seed", options.seed,
                                              "seed of normal() and uniform() initializers (default 0); given, it "
                                              "also shuffles the rows of each pass")
                                ->type_name("S")
                                ->check(wholeNumber(true));
  train->add_option("--save", options.save, "write the script back with the trained values")
      ->type_name("OUT.bp")
      ->check(nonEmpty());
  train->add_flag("--json", options.json, "print one JSON object at the end");
  train->add_flag("--quiet", options.quiet, "print no progress");
  addNonFiniteOptions(train, options, false);
  addSetOption(train, options);
  addCacheOptions(train, options);
  addThreadsOption(train, options);

  CLI::App *cache = app.add_subcommand("cache", "show (info) or empty (clear) the compile cache of run, gradcheck "
                                                "and train");
  cache->add_option("ACTION", options.cacheAction, "info: its location, entries and bytes; clear: remove them")
      ->required()
      ->check(CLI::IsMember({"info", "clear"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    llvm::errs() << "bpc: error: " << describeUsageError(app, e, argc, argv) << "\nRun 'bpc --help' for usage.\n";
    return ExitUsage;
  }

  configureCompileCache(options);
  bp::setDefaultCompileThreads(options.threads);
  if (*check)
    return checkCommand(options);
  if (*graph)
    return graphCommand(options);
  if (*run) {
    options.grad = options.grad || options.selectsGradient();
    return runCommand(options);
  }
  if (*emitLLVM)
    return emitLLVMCommand(options);
  if (*explain)
    return explainCommand(options);
  if (*gradcheck)
    return gradcheckCommand(options);
  if (*build) {
    if (options.trainStep && !setObjective(options, minimize, maximize, "--train-step", *build))
      return ExitUsage;
    options.varsGiven = buildStepOptions.vars->count() > 0;
    return buildCommand(options);
  }
  if (*train) {
    if (!setObjective(options, minimize, maximize, "train", *train))
      return ExitUsage;
    options.seedGiven = seedOption->count() > 0;
    options.varsGiven = trainStepOptions.vars->count() > 0;
    return trainCommand(options);
  }
  if (*cache)
    return cacheCommand(options);
  return ExitUsage;
}
