# Run by CPack on the staged files before it builds the packages (CPACK_PRE_BUILD_SCRIPTS of
# cmake/packaging.cmake), as Debian's dh_strip does: the static libraries lose their debug
# information (most of libparti-dev's size, and what makes lintian slow on it), and every ELF
# file its .comment and .note sections (compiler versions). CPACK_STRIP_FILES has already
# stripped the programs' symbols; it leaves static libraries alone.
file(GLOB_RECURSE _archives "${CPACK_TEMPORARY_DIRECTORY}/*.a")
file(GLOB_RECURSE _programs "${CPACK_TEMPORARY_DIRECTORY}/*")
list(FILTER _programs INCLUDE REGEX "/usr/bin/[^/]+$")
foreach(_file IN LISTS _archives _programs)
  set(_options --remove-section=.comment --remove-section=.note)
  if(_file MATCHES "\\.a$")
    list(APPEND _options --strip-debug --enable-deterministic-archives)
  endif()
  execute_process(COMMAND "${CPACK_PARTI_STRIP}" ${_options} "${_file}"
                  RESULT_VARIABLE _result ERROR_VARIABLE _error)
  if(NOT _result EQUAL 0)
    message(FATAL_ERROR "strip ${_file} failed: ${_error}")
  endif()
endforeach()
list(LENGTH _archives _archive_count)
list(LENGTH _programs _program_count)
message(STATUS "packaging_strip: ${_archive_count} static libraries, ${_program_count} programs in ${CPACK_TEMPORARY_DIRECTORY}")
