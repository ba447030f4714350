# Writes cqueue.pc at install time; the root CMakeLists.txt runs it through
# install(CODE). cqueue.pc holds absolute paths, and only at install time is
# the prefix known for sure: `cmake --install build --prefix P` must give a
# cqueue.pc for P, not for the CMAKE_INSTALL_PREFIX seen at configure time.
#
# Input: CQUEUE_PC_TEMPLATE (pkgconfig/cqueue.pc.in), CQUEUE_PC_VERSION, and
# CQUEUE_PC_LIBDIR / CQUEUE_PC_INCLUDEDIR as CMAKE_INSTALL_LIBDIR /
# CMAKE_INSTALL_INCLUDEDIR (relative to the prefix, or absolute).
# Honours DESTDIR and records the file in install_manifest.txt.

set(CQUEUE_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
cmake_path(ABSOLUTE_PATH CQUEUE_PC_LIBDIR BASE_DIRECTORY "${CMAKE_INSTALL_PREFIX}" NORMALIZE)
cmake_path(ABSOLUTE_PATH CQUEUE_PC_INCLUDEDIR BASE_DIRECTORY "${CMAKE_INSTALL_PREFIX}" NORMALIZE)
set(_cqueue_pc_file "$ENV{DESTDIR}${CQUEUE_PC_LIBDIR}/pkgconfig/cqueue.pc")
message(STATUS "Installing: ${_cqueue_pc_file}")
configure_file("${CQUEUE_PC_TEMPLATE}" "${_cqueue_pc_file}" @ONLY)
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${_cqueue_pc_file}")
unset(_cqueue_pc_file)
