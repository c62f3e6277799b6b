/* The core functions the fuzzer calls, as the native build defines them: the prototypes
   tools/gen_abi.py generates from abi/preview1.toml and abi/host.toml, which the core's own definitions must match. */
#ifndef FUZZ_CORE_API_H
#define FUZZ_CORE_API_H

#include "wasi/exports.h"
#include "host/exports.h"

#endif
