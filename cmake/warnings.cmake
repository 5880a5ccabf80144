# Warnings for every rkchat target: link rkchat_options.
add_library(rkchat_options INTERFACE)
target_compile_options(rkchat_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
  -Wcast-align -Wunused -Woverloaded-virtual -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
# No implicit fusing of a * b + c: float results must not depend on the compiler's choice or on the CPU (GCC fuses
# by default where FMA is baseline: aarch64, the x86-64-v3/v4 clones). Code that wants a fused multiply-add says so
# (std::fma, FMA intrinsics), so every ISA and architecture rounds the same way.
target_compile_options(rkchat_options INTERFACE -ffp-contract=off)
if(RKCHAT_WERROR)
  target_compile_options(rkchat_options INTERFACE -Werror)
endif()
if(RKCHAT_SANITIZE)
  # GCC 12 reports -Wmaybe-uninitialized false positives inside libstdc++ (std::regex, std::function) once the
  # sanitizers instrument the code; the Release build keeps the warning as an error.
  target_compile_options(rkchat_options INTERFACE -fsanitize=address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer -Wno-maybe-uninitialized)
  target_link_options(rkchat_options INTERFACE -fsanitize=address,undefined)
endif()
if(RKCHAT_TSAN)
  target_compile_options(rkchat_options INTERFACE -fsanitize=thread -fno-omit-frame-pointer -Wno-maybe-uninitialized
    -Wno-tsan)
  target_link_options(rkchat_options INTERFACE -fsanitize=thread)
endif()
target_include_directories(rkchat_options INTERFACE ${CMAKE_SOURCE_DIR}/src)
target_compile_definitions(rkchat_options INTERFACE RKCHAT_VERSION="${PROJECT_VERSION}")
