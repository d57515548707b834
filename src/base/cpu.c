/* base/cpu.c: x86 CPU feature detection via cpuid/xgetbv, done once, maskable for tests. */
#include "base.h"

#include <cpuid.h>
#include <unistd.h>

static unsigned g_detected;   /* set once */
static unsigned g_mask = ~0u; /* tests and benches restrict tiers */
static int g_done;

static unsigned long long xgetbv0(void) {
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static unsigned detect(void) {
    unsigned a, b, c, d, f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1;
    if (!osxsave) return 0;
    unsigned long long xcr0 = xgetbv0();
    int ymm_ok = (xcr0 & 6) == 6, zmm_ok = (xcr0 & 0xe6) == 0xe6;
    if (((c >> 12) & 1) && ymm_ok) f |= OL_CPU_FMA;
    if (((c >> 29) & 1) && ymm_ok) f |= OL_CPU_F16C;
    if (__get_cpuid_max(0, 0) < 7) return f;
    __cpuid_count(7, 0, a, b, c, d);
    if (((b >> 5) & 1) && ymm_ok) f |= OL_CPU_AVX2;
    if (zmm_ok) {
        if ((b >> 16) & 1) f |= OL_CPU_AVX512F;
        if ((b >> 30) & 1) f |= OL_CPU_AVX512BW;
        if ((b >> 31) & 1) f |= OL_CPU_AVX512VL;
        if ((c >> 11) & 1) f |= OL_CPU_AVX512VNNI;
    }
    __cpuid_count(7, 1, a, b, c, d);
    if (((a >> 4) & 1) && ymm_ok) f |= OL_CPU_AVXVNNI;
    if (((a >> 5) & 1) && zmm_ok) f |= OL_CPU_AVX512BF16;
    return f;
}

unsigned ol_cpu_features(void) {
    if (!g_done) {
        g_detected = detect();
        g_done = 1;
    }
    return g_detected & g_mask;
}

void ol_cpu_features_mask(unsigned mask) {
    g_mask = mask;
}

int ol_cpu_n_physical(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
