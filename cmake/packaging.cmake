# The Debian packages, built by CPack (scripts/package; `cpack` in a build directory):
#  - parti-node: parti-node, parti-ctl and parti-consume in /usr/bin, the systemd unit (made from
#    config/systemd/parti-node.service), /etc/parti/parti-node.ini (config/parti-node.ini, a
#    conffile) and the documentation in /usr/share/doc/parti-node. Nothing is enabled or started.
#  - libparti-dev: the static libraries, the headers and the CMake package (find_package(parti)).
#
# Included right after project(), before any install() rule, because two defaults must be in
# place before those rules are read:
#  - every install() rule without a COMPONENT belongs to `dev` (the library, its headers and its
#    CMake package); the programs of the package say COMPONENT runtime (apps/CMakeLists.txt);
#  - the library directory is lib/<multiarch> on Debian, as Debian's own packages have it.
# The files only the package installs (the conffile in /etc, the unit in /lib/systemd, the
# Debian copyright and changelog) are EXCLUDE_FROM_ALL: `cmake --install` into a prefix never
# writes /etc, and CPack, which installs one component at a time, still gets them.

# lib/x86_64-linux-gnu rather than lib, for every prefix (as debhelper passes it); set before
# GNUInstallDirs, which would pick it only for the prefix /usr. A build directory configured
# before this default existed holds GNUInstallDirs' old default "lib": that is moved over, once.
# A value given with -DCMAKE_INSTALL_LIBDIR is kept.
if(CMAKE_LIBRARY_ARCHITECTURE AND NOT PARTI_LIBDIR_DEFAULT_APPLIED)
  if(NOT DEFINED CACHE{CMAKE_INSTALL_LIBDIR}
     OR (DEFINED _GNUInstallDirs_LAST_CMAKE_INSTALL_PREFIX AND CMAKE_INSTALL_LIBDIR STREQUAL "lib"))
    set(CMAKE_INSTALL_LIBDIR "lib/${CMAKE_LIBRARY_ARCHITECTURE}"
        CACHE PATH "Object code libraries (LIBDIR)" FORCE)
  endif()
  set(PARTI_LIBDIR_DEFAULT_APPLIED ON CACHE INTERNAL "")
endif()
include(GNUInstallDirs)
set(CMAKE_INSTALL_DEFAULT_COMPONENT_NAME dev)

set(PARTI_PACKAGE_MAINTAINER "parti-cpp maintainers <maintainers@users.noreply.r-seed-cce30c20.example>"
    CACHE STRING "Maintainer field of the Debian packages")
set(PARTI_DEBIAN_REVISION 1 CACHE STRING
    "Debian revision of the packages: <project version>-<revision>")
set(PARTI_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)
set(PARTI_PACKAGING_BINARY_DIR ${PROJECT_BINARY_DIR}/packaging)
set(PARTI_RUNTIME_DOCDIR ${CMAKE_INSTALL_DATAROOTDIR}/doc/parti-node)

# --- The systemd unit: config/systemd/parti-node.service with the package's paths and user ----
# One source of truth: the packaged unit is that file with three checked edits. A change to the
# source that makes an edit miss stops the configure, rather than shipping a wrong unit.
set(_unit_source ${PROJECT_SOURCE_DIR}/config/systemd/parti-node.service)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_unit_source})
file(READ ${_unit_source} _unit)

function(parti_unit_edit unit_var pattern replacement what)
  string(REGEX REPLACE "${pattern}" "${replacement}" _edited "${${unit_var}}")
  if(_edited STREQUAL "${${unit_var}}")
    message(FATAL_ERROR "cmake/packaging.cmake: config/systemd/parti-node.service changed; "
                        "cannot ${what} for the packaged unit")
  endif()
  set(${unit_var} "${_edited}" PARENT_SCOPE)
endfunction()

# 1. The steps of a hand installation (the package did them) give way to what is left to do.
parti_unit_edit(_unit "# Installing by hand instead:\n(#   [^\n]*\n)+"
  "# Left to do: edit /etc/parti/parti-node.ini (nats-url, group, partitions), then\n#   systemctl enable --now parti-node\n"
  "replace the hand installation steps")
# 2. The package's programs and documentation are under /usr, not /usr/local.
parti_unit_edit(_unit "/usr/local/" "/usr/" "move /usr/local to /usr")
# 3. No account to create: systemd allocates one for each run.
parti_unit_edit(_unit "\nUser=parti\nGroup=parti\n"
  "
# The package creates no account: systemd allocates a user for each run. Secrets that only root
# may read reach the node through LoadCredential= in a drop-in, e.g.
#   LoadCredential=nats-password:/etc/parti/nats-password
# with nats-password-file=\"/run/credentials/parti-node.service/nats-password\" in the INI file.
DynamicUser=yes
"
  "replace User=/Group= with DynamicUser=yes")
foreach(_expected "\nExecStart=/usr/bin/parti-node "
                  "\nDocumentation=file:///usr/share/doc/parti-node/README.md\n")
  string(FIND "${_unit}" "${_expected}" _at)
  if(_at EQUAL -1)
    message(FATAL_ERROR "cmake/packaging.cmake: the packaged unit lacks '${_expected}'")
  endif()
endforeach()
file(WRITE ${PARTI_PACKAGING_BINARY_DIR}/parti-node.service "${_unit}")

# --- The Debian changelog, gzip -9n (no name, no time stamp in the gzip header) ---------------
# Dated by the commit the build was configured from, so that it changes only with the tree; so
# are the manual pages (apps/CMakeLists.txt), through PARTI_COMMIT_EPOCH.
set(_commit_dates "")
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} log -1 --format=%ct%n%aD
                  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                  OUTPUT_VARIABLE _commit_dates OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
if(_commit_dates MATCHES "^([0-9]+)\n(.+)$")
  set(PARTI_COMMIT_EPOCH ${CMAKE_MATCH_1})
  set(_changelog_date "${CMAKE_MATCH_2}")
else()
  string(TIMESTAMP PARTI_COMMIT_EPOCH "%s" UTC)
  string(TIMESTAMP _changelog_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
endif()
file(WRITE ${PARTI_PACKAGING_BINARY_DIR}/changelog.Debian
"parti (${PROJECT_VERSION}-${PARTI_DEBIAN_REVISION}) unstable; urgency=medium

  * Built with CPack from the parti-cpp tree. The changes of each version are in
    its CHANGELOG.md (parti-node: /usr/share/doc/parti-node/changelog.gz).

 -- ${PARTI_PACKAGE_MAINTAINER}  ${_changelog_date}
")
# Debian's place for the project's own changelog is changelog.gz (policy 12.7); CHANGELOG.md
# stays beside it under its name, which docs/VERSIONING.md links to.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/CHANGELOG.md)
foreach(_pair "${PARTI_PACKAGING_BINARY_DIR}/changelog.Debian;changelog.Debian.gz"
              "${PROJECT_SOURCE_DIR}/CHANGELOG.md;changelog.gz")
  list(GET _pair 0 _from)
  list(GET _pair 1 _to)
  execute_process(COMMAND gzip -9nc ${_from} OUTPUT_FILE ${PARTI_PACKAGING_BINARY_DIR}/${_to}
                  RESULT_VARIABLE _gzip_result)
  if(NOT _gzip_result EQUAL 0)
    message(FATAL_ERROR "cmake/packaging.cmake: gzip -9nc ${_from} failed")
  endif()
endforeach()

# --- What the packages install besides the targets ---------------------------------------------
# The documentation is part of a plain install too: the unit's Documentation= names README.md.
# docs/*.md sit in docs/ beside README.md, so that the README's links keep working.
install(FILES README.md CHANGELOG.md DESTINATION ${PARTI_RUNTIME_DOCDIR} COMPONENT runtime)
file(GLOB _docs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${_docs} DESTINATION ${PARTI_RUNTIME_DOCDIR}/docs COMPONENT runtime)
install(FILES config/production.ini DESTINATION ${PARTI_RUNTIME_DOCDIR}/examples
        COMPONENT runtime)

# The package only. /etc/parti/parti-node.ini is config/parti-node.ini: every key at its default
# and nothing of a particular site (production.ini names files that do not exist on a new
# host). It does not start as it is: partitions (or partitions-file) must be set first.
install(FILES config/parti-node.ini DESTINATION /etc/parti COMPONENT runtime EXCLUDE_FROM_ALL)
install(FILES ${PARTI_PACKAGING_BINARY_DIR}/changelog.gz DESTINATION ${PARTI_RUNTIME_DOCDIR}
        COMPONENT runtime EXCLUDE_FROM_ALL)
install(FILES ${PARTI_PACKAGING_BINARY_DIR}/parti-node.service DESTINATION /lib/systemd/system
        COMPONENT runtime EXCLUDE_FROM_ALL)
foreach(_component runtime dev)
  if(_component STREQUAL "runtime")
    set(_package parti-node)
  else()
    set(_package libparti-dev)
  endif()
  install(FILES ${PARTI_PACKAGING_DIR}/copyright ${PARTI_PACKAGING_BINARY_DIR}/changelog.Debian.gz
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${_package}
          COMPONENT ${_component} EXCLUDE_FROM_ALL)
  # The warnings accepted, each with its reason (lintian reads them from the package).
  install(FILES ${PARTI_PACKAGING_DIR}/lintian-overrides/${_package}
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides
          COMPONENT ${_component} EXCLUDE_FROM_ALL)
endforeach()
file(WRITE ${PARTI_PACKAGING_BINARY_DIR}/conffiles "/etc/parti/parti-node.ini\n")

# --- CPack ---------------------------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME parti)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${PARTI_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
# Stripped programs: the package is smaller and cpack faster (debug information of a
# RelWithDebInfo build would be most of the package).
set(CPACK_STRIP_FILES ON)
# ... and then the static libraries' debug information and every ELF file's .comment and .note
# (cmake/packaging_strip.cmake, on the staged files).
set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/cmake/packaging_strip.cmake)
set(CPACK_PARTI_STRIP ${CMAKE_STRIP})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${PARTI_DEBIAN_REVISION})
set(CPACK_DEBIAN_PACKAGE_SOURCE parti)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME parti-node)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION net)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)  # dpkg-shlibdeps (dpkg-dev) names the libraries
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SUGGESTS nats-server)  # for --nats-url=embedded
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA ${PARTI_PACKAGING_BINARY_DIR}/conffiles)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
"partition assignment to worker processes over NATS JetStream KV
parti-node hands a set of partitions (shards, keys, topics) to a fleet of
worker processes and keeps that hand-out correct while workers start, stop,
crash and restart: no partition lost, none owned twice, nothing moved without
need. NATS JetStream Key-Value is the only coordination store.

This package contains parti-node, parti-ctl (status, ownership of a key,
refresh) and parti-consume, the systemd unit parti-node.service and the
configuration file /etc/parti/parti-node.ini. It neither enables nor starts
the service: set nats-url, group and partitions in /etc/parti/parti-node.ini,
then run systemctl enable --now parti-node.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libparti-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# What find_package(parti) looks for (cmake/partiConfig.cmake.in): the static libraries carry
# their dependencies to the program that links them.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libcaf-dev (>= 0.17), libnats-dev (>= 3.4), libxxhash-dev, libmsgpack-cxx-dev (>= 4), \
prometheus-cpp-dev, libcivetweb-dev, nlohmann-json3-dev (>= 3), pkgconf | pkg-config")
set(CPACK_DEBIAN_DEV_DESCRIPTION
"partition assignment over NATS JetStream KV (C++ library)
The parti library: CAF actors that assign partitions to worker processes
through NATS JetStream Key-Value, and a synchronous facade for programs
without an actor system. Static libraries, headers and the CMake package:
find_package(parti) gives the target parti::parti.")
include(CPack)
