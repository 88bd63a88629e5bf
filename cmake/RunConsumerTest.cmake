# ctest's cmake-consumer: installs a bp build into a fresh prefix, builds examples/cmake-consumer against it
# (find_package(bp), with the build's compilers, launcher, generator and build type), runs its C++ and C
# programs on SCRIPT and compares the output of each with EXPECTED (lines separated by `;`).
#   cmake -DBP_BUILD=... -DWORK=... -DSOURCE=... -DSCRIPT=... -DEXPECTED=... -DGENERATOR=... -DCC=... -DCXX=...
#         [-DLAUNCHER=...] [-DBUILD_TYPE=...] -P RunConsumerTest.cmake
cmake_minimum_required(VERSION 3.20)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${output}\ncmake-consumer: ${what} failed (${status})")
  endif()
  set(output "${output}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK}/prefix ${WORK}/build)
run("cmake --install" ${CMAKE_COMMAND} --install ${BP_BUILD} --prefix ${WORK}/prefix)
set(options -DCMAKE_PREFIX_PATH=${WORK}/prefix -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_C_COMPILER=${CC})
if(LAUNCHER)
  list(APPEND options -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER} -DCMAKE_C_COMPILER_LAUNCHER=${LAUNCHER})
endif()
if(BUILD_TYPE)
  list(APPEND options -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
endif()
run("configuring ${SOURCE}" ${CMAKE_COMMAND} -S ${SOURCE} -B ${WORK}/build -G ${GENERATOR} ${options})
run("building ${SOURCE}" ${CMAKE_COMMAND} --build ${WORK}/build)
list(JOIN EXPECTED "\n" expected)
foreach(program bp_run bp_run_c) # C++ (bp/Model.h) and C (bp/bp.h)
  run("${program} ${SCRIPT}" ${WORK}/build/${program} ${SCRIPT})
  message("${output}")
  if(NOT output STREQUAL "${expected}\n")
    message(FATAL_ERROR "cmake-consumer: ${program} printed the above, expected:\n${expected}")
  endif()
endforeach()
