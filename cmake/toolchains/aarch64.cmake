# Cross build for 64-bit Arm boards (RK3588 & co.) with Debian's g++-aarch64-linux-gnu. The target's libraries
# (fmt, PCRE2, GoogleTest) are Debian's arm64 multiarch packages in /usr/lib/aarch64-linux-gnu, installed by
# scripts/install-aarch64-deps.sh; the cross compiler searches there and in /usr/include by itself. Binaries run
# on the build machine through qemu-aarch64-static (tests, gtest discovery).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# No -L sysroot: the arm64 multiarch libc (libc6:arm64) and its loader /lib/ld-linux-aarch64.so.1 must be used
# together; mixing the cross sysroot's loader with the multiarch libc hangs at the first thread creation.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static)

# Look for target packages only in the arm64 multiarch folders, never in the host's x86_64 ones.
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/cmake)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# GCC 12 for aarch64 reports -Wrestrict false positives inside libstdc++'s std::string at -O3 (GCC bug 105329);
# they stay warnings here, every other warning is still an error under RKCHAT_WERROR.
set(CMAKE_CXX_FLAGS_INIT "-Wno-error=restrict")
