# Installs the build at PARTI_BUILD_DIR into a temporary prefix, then configures, builds and runs
# the consumer project against it: find_package(parti) + parti::parti from an install prefix,
# and the headers through <parti/parti.hpp> alone. With PARTI_PREFIX instead, builds against a
# prefix that holds parti already (the extracted Debian package libparti-dev,
# tests/package/check.sh).
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
# The headers are under include/parti/ and nowhere else: an application's include path gets no
# top-level messages/, runtime/, actors/ or api/ of ours.
file(GLOB top_level RELATIVE "${prefix}/include" "${prefix}/include/*")
if(NOT top_level STREQUAL "parti")
  message(FATAL_ERROR "${prefix}/include holds [${top_level}], expected only [parti]")
endif()
foreach(header parti.hpp version.hpp api/embedded_node.hpp)
  if(NOT EXISTS "${prefix}/include/parti/${header}")
    message(FATAL_ERROR "not installed: include/parti/${header}")
  endif()
endforeach()
# Only the public headers and what they include: the library's pure rules (e.g. the node's
# lifecycle rules, node_rules.hpp) and the test-only local nats-server are not installed.
foreach(header actors/node/node_rules.hpp runtime/nats/local_server.hpp)
  if(EXISTS "${prefix}/include/parti/${header}")
    message(FATAL_ERROR "installed although nothing public includes it: include/parti/${header}")
  endif()
endforeach()

run(${CMAKE_COMMAND} -S "${CONSUMER_SOURCE_DIR}" -B "${WORK_DIR}/build"
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run("${WORK_DIR}/build/consumer")
set(expected "assigned 4 partitions to 2 workers; start refused \\(configuration_rejected\\)")
if(NOT last_output MATCHES "consumer: ${expected}")
  message(FATAL_ERROR "unexpected consumer output: ${last_output}")
endif()
if(NOT last_output MATCHES "consumer: parti [0-9]+\\.[0-9]+\\.[0-9]+ \\(commit [^)]+\\)")
  message(FATAL_ERROR "the installed parti/version.hpp is missing or empty: ${last_output}")
endif()
message(STATUS "consumer built against ${prefix} and ran: ${last_output}")
