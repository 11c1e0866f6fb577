/* tests/fuzz/fuzz.h -- the libFuzzer entry point every fuzz target defines. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * Run one input through the code under test; abort() on a property
 * violation so libFuzzer and the replay driver both notice.  Returns 0.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
