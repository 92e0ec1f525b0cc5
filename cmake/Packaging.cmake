# Debian packages of vxpu (cpack -G DEB in the build directory; docs/install.md), one per
# install component, installed under /usr in the FHS layout `cmake --install` uses:
#   vxpu                the CLI, the interposer, simgpu, the remote worker and the helpers
#   vxpud               the node agent and its systemd unit (needs vxpu: it hands out the interposer)
#   vxpu-scheduler      the kube-scheduler extender
#   vxpu-remote-client  the remote client's libcuda.so.1 and libnvidia-ml.so.1, for GPU-less hosts
# Dependencies on Debian's libraries come from dpkg-shlibdeps. libcuda.so.1 is the NVIDIA
# driver's (or simgpu's, in the vxpu package), never a Debian package's.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME vxpu)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "vxpu")
set(CPACK_PACKAGE_CONTACT "vxpu developers <vxpu@users.noreply.github.com>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL vxpu vxpud vxpu-scheduler vxpu-remote-client)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/vxpu/vxpu")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)  # the build's debug information stays in the build tree
# The libcuda.so.1 the helpers link is found at run time (the driver's, or simgpu's beside them).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_BINARY_DIR}/lib/simgpu)
set(CPACK_DEBIAN_VXPU_PACKAGE_NAME vxpu)
# Each description's first line is its synopsis (no package-wide summary is set, so CPack adds none).
set(CPACK_DEBIAN_VXPU_DESCRIPTION "GPU slices for processes, with a simulated GPU
vxpu run holds a program to a slice of a GPU's memory and time; vxpu ps and
top show the slices, vxpu remoted serves slices to other machines. Holds the
interposer libvxpu.so and simgpu, a simulated CUDA driver to try it without
a GPU.")
set(CPACK_DEBIAN_VXPUD_PACKAGE_NAME vxpud)
set(CPACK_DEBIAN_VXPUD_PACKAGE_DEPENDS "vxpu (= ${PROJECT_VERSION})")
set(CPACK_DEBIAN_VXPUD_DESCRIPTION "vxpu node agent
vxpud keeps the node's GPU inventory and slice registry, exports Prometheus
metrics and serves the kubelet device plugin for vxpu.io/gpu-units. Runs as
the systemd unit vxpud.service.")
set(CPACK_DEBIAN_VXPU-SCHEDULER_PACKAGE_NAME vxpu-scheduler)
set(CPACK_DEBIAN_VXPU-SCHEDULER_DESCRIPTION "vxpu kube-scheduler extender
vxpu-scheduler places pods asking for vxpu.io/gpu-units on the nodes and
GPUs where their slices fit, from what every node's vxpud reports.")
set(CPACK_DEBIAN_VXPU-REMOTE-CLIENT_PACKAGE_NAME vxpu-remote-client)
set(CPACK_DEBIAN_VXPU-REMOTE-CLIENT_DESCRIPTION "vxpu remote client: CUDA programs on another machine's GPU
A libcuda.so.1 and libnvidia-ml.so.1 that forward to a vxpu remoted, so a
machine without a GPU runs unmodified CUDA programs on a slice of another's.")

# What Debian asks of every package: a copyright file and (a native package's) changelog under
# /usr/share/doc/PACKAGE, manual pages for the programs (help2man, from their --help), and the
# lintian findings that are justified, each with why (deploy/debian/).
configure_file(${PROJECT_SOURCE_DIR}/deploy/debian/changelog.in ${CMAKE_BINARY_DIR}/debian/changelog @ONLY)
execute_process(COMMAND gzip -9nf ${CMAKE_BINARY_DIR}/debian/changelog)
foreach(component IN LISTS CPACK_COMPONENTS_ALL)
  install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/copyright ${CMAKE_BINARY_DIR}/debian/changelog.gz
          DESTINATION share/doc/${component} COMPONENT ${component})
endforeach()
# /etc/vxpu/vxpud.env (cmake/InstallUnit.cmake) is the administrator's: dpkg keeps their changes.
file(WRITE ${CMAKE_BINARY_DIR}/debian/vxpud/conffiles "/etc/vxpu/vxpud.env\n")
set(CPACK_DEBIAN_VXPUD_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/debian/vxpud/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/vxpu.lintian-overrides DESTINATION share/lintian/overrides
        RENAME vxpu COMPONENT vxpu)
find_program(VXPU_HELP2MAN help2man)
if(VXPU_HELP2MAN)
  set(manpages)
  foreach(entry "vxpu|vxpu|slice, pool and schedule GPUs" "vxpud|vxpud|the vxpu node agent"
                "vxpu_scheduler|vxpu-scheduler|the vxpu kube-scheduler extender")
    string(REPLACE "|" ";" entry "${entry}")
    list(GET entry 0 target)
    list(GET entry 1 program)
    list(GET entry 2 summary)
    set(page ${CMAKE_BINARY_DIR}/man/${program}.1)
    add_custom_command(OUTPUT ${page}.gz
                       COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
                       COMMAND ${VXPU_HELP2MAN} --no-info --no-discard-stderr -n "${summary}" -o ${page}
                               $<TARGET_FILE:${target}>
                       COMMAND gzip -9nf ${page}
                       DEPENDS ${target} VERBATIM)
    list(APPEND manpages ${page}.gz)
    install(FILES ${page}.gz DESTINATION share/man/man1 COMPONENT ${program})
  endforeach()
  add_custom_target(manpages ALL DEPENDS ${manpages})
else()
  message(STATUS "help2man not found: the packages will have no manual pages (scripts/install-deps.sh installs it)")
endif()
include(CPack)
