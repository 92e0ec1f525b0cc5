# Installs deploy/systemd/vxpud.service into <prefix>/lib/systemd/system and its configuration
# file vxpud.env into /etc/vxpu (prefix /usr, as the packages do) or <prefix>/etc/vxpu, the
# unit naming both where this install puts them (the file says /usr/local/bin/vxpud and
# /etc/vxpu/vxpud.env, for copying by hand). A configuration file already there is kept.
# In: VXPU_UNIT_SOURCE, VXPU_UNIT_CONFIG (set by the install(CODE) before this script),
# CMAKE_INSTALL_PREFIX and DESTDIR (as `cmake --install` and packaging set them).
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(config_dir "/etc/vxpu")
else()
  set(config_dir "${CMAKE_INSTALL_PREFIX}/etc/vxpu")
endif()
file(READ "${VXPU_UNIT_SOURCE}" unit)
string(REPLACE "/usr/local/bin/vxpud" "${CMAKE_INSTALL_PREFIX}/bin/vxpud" unit "${unit}")
string(REPLACE "EnvironmentFile=-/etc/vxpu/vxpud.env" "EnvironmentFile=-${config_dir}/vxpud.env" unit "${unit}")
set(target "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/lib/systemd/system/vxpud.service")
message(STATUS "Installing: ${target}")
file(WRITE "${target}" "${unit}")
set(config "$ENV{DESTDIR}${config_dir}/vxpud.env")
if(EXISTS "${config}")
  message(STATUS "Up-to-date: ${config} (kept)")
else()
  message(STATUS "Installing: ${config}")
  file(MAKE_DIRECTORY "$ENV{DESTDIR}${config_dir}")
  file(COPY_FILE "${VXPU_UNIT_CONFIG}" "${config}")
endif()
