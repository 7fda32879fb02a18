/* sl_prefetch.h - asks the CPU to load a cache line that will be read soon.
 *
 * GCC 12 drops __builtin_prefetch where it sits in a branch of its own (a lookup that
 * prefetches one of two tables, by the key's range): the emitted loop keeps the address
 * arithmetic's loads and no prefetch. On x86 the instruction is written out instead, as a
 * volatile asm the optimizer keeps; it never faults, whatever the address. */
#ifndef SL_PREFETCH_H
#define SL_PREFETCH_H

#if defined(__x86_64__) || defined(__i386__)
#define SL_PREFETCH(p) __asm__ volatile("prefetcht0 %0" : : "m"(*(const char *)(p)))
#else
#define SL_PREFETCH(p) __builtin_prefetch(p)
#endif

#endif
