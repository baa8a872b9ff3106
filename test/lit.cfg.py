# lit configuration of the attnc test suite.
#
# Tests are .mlir (dialect round-trips, verifier errors, passes), .ir
# (whole models) and .test (CLI behaviour) files. Tools come from the build
# tree, FileCheck and not from LLVM 22's tools directory, all through PATH.
import os
import lit.formats

config.name = "attnc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.attnc_obj_root, "test")

# Every capture in a CHECK-LABEL block is local to it (Triton does the same):
# a stale capture from an earlier function cannot make a test pass.
config.environment["FILECHECK_OPTS"] = "--enable-var-scope --dump-input=fail"
config.environment["PYTHONDONTWRITEBYTECODE"] = "1"

config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%attnc_src", config.attnc_src_root))
config.substitutions.append(("%llvm_include", os.path.join(os.path.dirname(config.llvm_tools_dir), "include")))
config.substitutions.append(("%examples", os.path.join(config.attnc_src_root, "examples")))
config.substitutions.append(("%refs", os.path.join(config.attnc_src_root, "test", "Interpreter", "refs")))
config.environment["PATH"] = os.pathsep.join(
    [config.attnc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])

# Graphviz is optional: `attnc analyze --emit=svg` needs its `dot`.
import shutil
if shutil.which("dot"):
    config.available_features.add("graphviz")

if config.have_nvrtc:
    config.available_features.add("nvrtc")
