# Installs the build at PARTI_BUILD_DIR into a temporary prefix, then configures, builds and runs
# the consumer project against it: find_package(parti) + parti::parti from an install prefix.
# With PARTI_PREFIX instead, builds against a prefix that holds parti already (the extracted
# Debian package libparti-dev, tests/package/check.sh).
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
if(DEFINED PARTI_PREFIX)
  set(prefix "${PARTI_PREFIX}")
else()
  set(prefix "${WORK_DIR}/prefix")
endif()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

if(NOT DEFINED PARTI_PREFIX)
  run(${CMAKE_COMMAND} --install "${PARTI_BUILD_DIR}" --prefix "${prefix}")
endif()
run(${CMAKE_COMMAND} -S "${CONSUMER_SOURCE_DIR}" -B "${WORK_DIR}/build"
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run("${WORK_DIR}/build/consumer")
if(NOT last_output MATCHES "consumer: decoded worker-7 epoch 3")
  message(FATAL_ERROR "unexpected consumer output: ${last_output}")
endif()
if(NOT last_output MATCHES "consumer: parti [0-9]+\\.[0-9]+\\.[0-9]+ \\(commit [^)]+\\)")
  message(FATAL_ERROR "the installed parti/version.hpp is missing or empty: ${last_output}")
endif()
message(STATUS "consumer built against ${prefix} and ran: ${last_output}")
