// A graph source that includes a header of a later stage (tests/stages/bad-includes.cmake).
#include "bp/Graph.h"
#include "bp/JIT.h"
