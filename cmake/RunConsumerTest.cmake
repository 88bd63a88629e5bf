# ctest's cmake-consumer: installs a bp build into a fresh prefix, builds examples/cmake-consumer against it
# (find_package(bp), with the build's compiler, launcher, generator and build type), runs it on SCRIPT and
# compares its output with EXPECTED (lines separated by `;`).
#   cmake -DBP_BUILD=... -DWORK=... -DSOURCE=... -DSCRIPT=... -DEXPECTED=... -DGENERATOR=... -DCXX=...
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
set(options -DCMAKE_PREFIX_PATH=${WORK}/prefix -DCMAKE_CXX_COMPILER=${CXX})
if(LAUNCHER)
  list(APPEND options -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
if(BUILD_TYPE)
  list(APPEND options -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
endif()
run("configuring ${SOURCE}" ${CMAKE_COMMAND} -S ${SOURCE} -B ${WORK}/build -G ${GENERATOR} ${options})
run("building ${SOURCE}" ${CMAKE_COMMAND} --build ${WORK}/build)
run("bp_run ${SCRIPT}" ${WORK}/build/bp_run ${SCRIPT})
message("${output}")
list(JOIN EXPECTED "\n" expected)
if(NOT output STREQUAL "${expected}\n")
  message(FATAL_ERROR "cmake-consumer: bp_run printed the above, expected:\n${expected}")
endif()
