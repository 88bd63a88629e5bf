# lit configuration for bp: every tests/<stage>/*.bp file is a test whose `# RUN:` lines call bpc.
import os
import shutil
import lit.formats

config.name = "bp"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".bp", ".test"]
config.excludes = ["Inputs", "unit", "tools", "fuzz", "CMakeLists.txt"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.bp_binary_root, "tests")

config.environment["PATH"] = os.pathsep.join(
    [config.llvm_tools_dir, config.environment.get("PATH", os.environ.get("PATH", ""))])
config.environment["LC_ALL"] = "C"
# bpc's compile cache: never the user's ~/.cache/bp. The tests of tests/cache give each run its own folder.
config.environment["BP_CACHE_DIR"] = os.path.join(config.test_exec_root, "bp-cache")
# A sanitizer build reserves terabytes of address space for its shadow memory, so tests that cap the address
# space (ulimit -v, RLIMIT_AS) cannot run there: they say `UNSUPPORTED: sanitizer`.
if config.bp_sanitize.upper() in ("ON", "1", "TRUE", "YES"):
    config.available_features.add("sanitizer")

# Tests that draw with Graphviz's dot (bpc graph --svg) say `REQUIRES: graphviz`.
if shutil.which("dot", path=config.environment["PATH"]):
    config.available_features.add("graphviz")

tools = os.path.join(config.test_source_root, "tools")
config.substitutions.append(("%bpc", config.bpc))
config.substitutions.append(("%readme", os.path.join(config.bp_source_root, "README.md")))
config.substitutions.append(("%examples", os.path.join(config.bp_source_root, "examples")))
config.substitutions.append(("%expect-exit", "python3 " + os.path.join(tools, "expect-exit.py")))
config.substitutions.append(("%python", "python3"))
config.substitutions.append(("%tools", tools))
config.substitutions.append(("%cc", config.c_compiler))
config.substitutions.append(("%cxx", config.cxx_compiler))
