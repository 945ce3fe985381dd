# Deployment parts of the build, included from the top-level CMakeLists.txt
# after the crisp target:
#  - CRISP_STATIC: a crisp for nodes that lack Debian 12's libraries (kind's
#    kindest/node images). protobuf-c, json-c, libyaml, libseccomp, libuv and
#    libnghttp2 (and for crisp-replay, gRPC and what it needs) are linked from
#    Debian 12's static archives; only glibc (and for crisp-replay libstdc++
#    and libgcc_s) stays dynamic. The daemon needs libc alone.
#  - install(): the systemd unit and the example files next to the binary.

option(CRISP_STATIC "Link every library but glibc, libstdc++ and libgcc_s statically (kind nodes)" OFF)

if(CRISP_STATIC)
  if(CRISP_SANITIZE)
    message(FATAL_ERROR "CRISP_STATIC and CRISP_SANITIZE do not go together")
  endif()
  # libuv's static archive is libuv_a.a, described by its own .pc file.
  pkg_check_modules(LIBUV_STATIC REQUIRED libuv-static)
  # What `pkg-config --static` lists, minus the parts of glibc (these stay
  # dynamic: a static piece of glibc next to a dynamic libc is broken).
  set(_crisp_glibc c m dl rt pthread)
  set(_crisp_archives)
  foreach(_name IN LISTS GRPC_STATIC_LIBRARIES PROTOBUF_C_STATIC_LIBRARIES
                         JSONC_STATIC_LIBRARIES LIBUV_STATIC_STATIC_LIBRARIES
                         YAML_STATIC_LIBRARIES LIBSECCOMP_STATIC_LIBRARIES
                         NGHTTP2_STATIC_LIBRARIES)
    if(_name IN_LIST _crisp_glibc OR _name STREQUAL "atomic")
      continue()
    endif()
    find_library(CRISP_STATIC_LIB_${_name} NAMES lib${_name}.a
      HINTS ${GRPC_STATIC_LIBRARY_DIRS} ${LIBUV_STATIC_STATIC_LIBRARY_DIRS})
    if(NOT CRISP_STATIC_LIB_${_name})
      message(FATAL_ERROR "CRISP_STATIC: no static archive lib${_name}.a (hack/install-deps.sh)")
    endif()
    list(APPEND _crisp_archives ${CRISP_STATIC_LIB_${_name}})
  endforeach()
  list(REMOVE_DUPLICATES _crisp_archives)
  list(JOIN _crisp_archives "," _crisp_archive_group)
  # One group, rescanned until every symbol resolves: the order pkg-config
  # gives is not a valid static link order across all these modules.
  add_library(crisp_static_deps INTERFACE)
  target_link_libraries(crisp_static_deps INTERFACE
    "$<LINK_GROUP:RESCAN,${_crisp_archive_group}>"
    # gcc's libatomic only as an archive (there is no libatomic on a node);
    # then the C++ runtime gRPC needs, and glibc.
    "-l:libatomic.a" stdc++ m Threads::Threads dl rt)
  # Everything that links a pkg-config target gets the archives instead.
  foreach(_target PkgConfig::GRPC PkgConfig::PROTOBUF_C PkgConfig::JSONC PkgConfig::LIBUV
                  PkgConfig::YAML PkgConfig::LIBSECCOMP PkgConfig::NGHTTP2)
    set_property(TARGET ${_target} PROPERTY INTERFACE_LINK_LIBRARIES crisp_static_deps)
  endforeach()
endif()

# ---- install ------------------------------------------------------------------
# Binary in <prefix>/bin (install(TARGETS crisp) above), the unit in
# <prefix>/lib/systemd/system (systemd reads /usr/lib/... and
# /usr/local/lib/...), and the files to copy into /etc in <prefix>/share/crisp.
# DESTDIR works as usual. The unit's ExecStart names the binary's installed
# path, so choose the prefix when configuring (CMAKE_INSTALL_PREFIX), not only
# with `cmake --install --prefix`.
include(GNUInstallDirs)
set(CRISP_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Where to install crisp.service (relative to the prefix, or absolute)")
set(_crisp_deploy ${CMAKE_SOURCE_DIR}/deploy)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${_crisp_deploy}/systemd/crisp.service ${_crisp_deploy}/crio/10-crio.conf)
foreach(_unit systemd/crisp.service crio/10-crio.conf)
  file(READ ${_crisp_deploy}/${_unit} _text)
  string(REPLACE "/usr/local/bin/crisp" "${CMAKE_INSTALL_FULL_BINDIR}/crisp" _text "${_text}")
  file(WRITE ${CMAKE_BINARY_DIR}/deploy/${_unit} "${_text}")
endforeach()
install(FILES ${CMAKE_BINARY_DIR}/deploy/systemd/crisp.service
        DESTINATION ${CRISP_SYSTEMD_UNIT_DIR})
install(FILES ${_crisp_deploy}/systemd/crisp.env
        DESTINATION ${CMAKE_INSTALL_DATADIR}/crisp)
# Not enabled by default: copy it to /etc/systemd/system/crisp.service.d/.
install(FILES ${_crisp_deploy}/systemd/30-podspec.conf ${_crisp_deploy}/systemd/40-complain.conf
        DESTINATION ${CMAKE_INSTALL_DATADIR}/crisp/systemd)
install(FILES ${_crisp_deploy}/kubelet/20-crisp.conf ${_crisp_deploy}/kubelet/kubelet.env
              ${_crisp_deploy}/kubelet/kubelet-config.yaml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/crisp/kubelet)
install(FILES ${CMAKE_BINARY_DIR}/deploy/crio/10-crio.conf ${_crisp_deploy}/crio/kubelet.env
        DESTINATION ${CMAKE_INSTALL_DATADIR}/crisp/crio)
