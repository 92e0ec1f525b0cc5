# Installs deploy/systemd/vxpud.service into <prefix>/lib/systemd/system, its ExecStart naming
# vxpud where this install puts it (the file says /usr/local/bin/vxpud, for copying by hand).
# In: VXPU_UNIT_SOURCE (set by the install(CODE) before this script), CMAKE_INSTALL_PREFIX and
# DESTDIR (as `cmake --install` and packaging set them).
file(READ "${VXPU_UNIT_SOURCE}" unit)
string(REPLACE "/usr/local/bin/vxpud" "${CMAKE_INSTALL_PREFIX}/bin/vxpud" unit "${unit}")
set(target "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/lib/systemd/system/vxpud.service")
message(STATUS "Installing: ${target}")
file(WRITE "${target}" "${unit}")
