# bp's stage graph (REAL_MANIFEST) with two files added against it, for ctest's stage-includes-refused:
# a graph source that includes a header of jit, a later stage, and a jit header that includes a header of
# codegen, which jit links PRIVATE.
include(${REAL_MANIFEST})
list(APPEND BP_STAGE_graph_SOURCES ${CMAKE_CURRENT_LIST_DIR}/graph-includes-jit.cpp)
list(APPEND BP_STAGE_jit_HEADERS ${CMAKE_CURRENT_LIST_DIR}/jit-header-includes-codegen.h)
