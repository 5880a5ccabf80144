# The .deb (CPack's DEB generator): the binary, the systemd unit, the service's options (a conffile), the man page
# and the tokenizer `synth` writes. `cpack --config build/<preset>/CPackConfig.cmake` in a build folder makes
# rkchat_<version>_<arch>.deb; the cross build (preset aarch64) makes the arm64 package.
include(GNUInstallDirs)

install(FILES ${CMAKE_SOURCE_DIR}/packaging/rkchat.service DESTINATION lib/systemd/system COMPONENT rkchat)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/rkchat.default DESTINATION /etc/default RENAME rkchat COMPONENT rkchat)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/rkchat.1 DESTINATION share/man/man1 COMPONENT rkchat)
install(FILES ${CMAKE_SOURCE_DIR}/data/qwen3-vocab.gguf DESTINATION share/rkchat COMPONENT rkchat)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(RKCHAT_DEB_ARCH arm64)
else()
  set(RKCHAT_DEB_ARCH amd64)
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME rkchat)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "rkchat developers <rkchat@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Local LLM runtime and chat server for Rockchip RK3588 boards and any Linux")
set(CPACK_PACKAGE_DESCRIPTION
    "rkchat runs GGUF models on its own CPU engine and .rkllm models on Rockchip's NPU, and serves them to the\
 clients people already use: OpenAI, Ollama and Anthropic APIs, and a web chat page.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL OFF)
set(CPACK_COMPONENTS_ALL rkchat)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${RKCHAT_DEB_ARCH})
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
# Library dependencies come from the binary itself (dpkg-shlibdeps reads the multiarch packages of either arch).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
# The service's options are a conffile: an upgrade never overwrites an edited copy (dpkg asks).
file(WRITE ${CMAKE_BINARY_DIR}/packaging/conffiles "/etc/default/rkchat\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_BINARY_DIR}/packaging/conffiles ${CMAKE_SOURCE_DIR}/packaging/debian/postinst ${CMAKE_SOURCE_DIR}/packaging/debian/prerm
    ${CMAKE_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_WARN_ON_ABSOLUTE_INSTALL_DESTINATION OFF)
include(CPack)
