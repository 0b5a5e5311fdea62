// The pause a spinning thread takes between looks at a shared flag: it tells the core to yield its
// pipeline to the sibling hyperthread and avoids the memory-order flush on leaving the loop.
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
void zoo_spin_pause(void) { _mm_pause(); }
#elif defined(__aarch64__)
void zoo_spin_pause(void) { __asm__ __volatile__("yield"); }
#else
void zoo_spin_pause(void) {}
#endif
