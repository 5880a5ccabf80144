# Warnings for every rkchat target: link rkchat_options.
add_library(rkchat_options INTERFACE)
target_compile_options(rkchat_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
  -Wcast-align -Wunused -Woverloaded-virtual -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(RKCHAT_WERROR)
  target_compile_options(rkchat_options INTERFACE -Werror)
endif()
if(RKCHAT_SANITIZE)
  target_compile_options(rkchat_options INTERFACE -fsanitize=address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer)
  target_link_options(rkchat_options INTERFACE -fsanitize=address,undefined)
endif()
target_include_directories(rkchat_options INTERFACE ${CMAKE_SOURCE_DIR}/src)
target_compile_definitions(rkchat_options INTERFACE RKCHAT_VERSION="${PROJECT_VERSION}")
