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
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Slices, pools and schedules GPUs")
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
set(CPACK_DEBIAN_VXPU_DESCRIPTION "vxpu: GPU slices for processes (vxpu run, ps, top, remoted) with the simulated GPU")
set(CPACK_DEBIAN_VXPUD_PACKAGE_NAME vxpud)
set(CPACK_DEBIAN_VXPUD_PACKAGE_DEPENDS "vxpu (= ${PROJECT_VERSION})")
set(CPACK_DEBIAN_VXPUD_DESCRIPTION "vxpu node agent: device inventory, slice registry, metrics, kubelet device plugin")
set(CPACK_DEBIAN_VXPU-SCHEDULER_PACKAGE_NAME vxpu-scheduler)
set(CPACK_DEBIAN_VXPU-SCHEDULER_DESCRIPTION "vxpu kube-scheduler extender")
set(CPACK_DEBIAN_VXPU-REMOTE-CLIENT_PACKAGE_NAME vxpu-remote-client)
set(CPACK_DEBIAN_VXPU-REMOTE-CLIENT_DESCRIPTION "vxpu remote client: run CUDA programs on another machine's GPU")
include(CPack)
