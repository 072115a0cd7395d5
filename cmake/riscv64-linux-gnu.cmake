# Cross-compiling to 64-bit RISC-V Linux with the vector extension (RVV 1.0): clang 19
# with Debian's riscv64 cross libc and libstdc++. Tests run under qemu-riscv64, whose
# CPU (vector length included) comes from QEMU_CPU in the environment.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR riscv64)
set(CMAKE_CXX_COMPILER clang++-19)
set(CMAKE_CXX_COMPILER_TARGET riscv64-linux-gnu)
set(CMAKE_LIBRARY_ARCHITECTURE riscv64-linux-gnu)
# V is part of the baseline because Highway (up to 1.2) has no run-time detection of
# RVV; with only that one target, code is compiled for it alone and called directly.
# --gcc-toolchain: the cross libstdc++ lives in /usr, outside the compile-time root.
set(CMAKE_CXX_FLAGS_INIT "-march=rv64gcv --gcc-toolchain=/usr -DHWY_COMPILE_ONLY_STATIC")
# No auto-vectorization: qemu 7.2 (Debian 12) aborts translating some of the vector
# code clang 19 makes of plain loops (an assertion in its decode_save_opc, seen on
# the quantizers' element-wise loops); Highway's explicit RVV code is not affected,
# and the scalar code computes the same either way. The flags must follow -O3, which
# turns vectorization back on in clang, hence the whole Release line here.
set(CMAKE_CXX_FLAGS_RELEASE "-O3 -DNDEBUG -fno-vectorize -fno-slp-vectorize" CACHE STRING "")
# A root for compiling only, so that the host's /usr/include never fills in for a
# missing riscv64 header; not for linking, because the cross libc.so is a linker
# script naming its libraries by absolute path, which a root would prefix again.
set(CMAKE_SYSROOT_COMPILE /usr/riscv64-linux-gnu)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-riscv64 -L /usr/riscv64-linux-gnu)
