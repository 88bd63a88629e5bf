// A jit header that includes a header of a stage jit links only PRIVATE (tests/stages/bad-includes.cmake).
#include "bp/Autodiff.h"
#include "bp/CodeGen.h"
