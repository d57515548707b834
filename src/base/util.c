/* base/util.c: time, aligned memory, half-float conversion, file reading, hashing. */
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t ol_time_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct timespec ol_deadline_ms(long ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    return ts;
}

void *ol_alloc_aligned(size_t size) {
    if (size == 0) size = 64;
    if (size > SIZE_MAX - 63) return NULL;
    size = (size + 63) & ~(size_t)63;
    return aligned_alloc(64, size);
}

void ol_free_aligned(void *p) {
    free(p);
}

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static inline float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float ol_f16_to_f32(ol_f16 h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13)); /* inf / nan */
    if (exp == 0) {
        if (mant == 0) return bits_f32(sign);
        /* subnormal: mant * 2^-24 */
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

ol_f16 ol_f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (ol_f16)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u) return (ol_f16)(sign | 0x7c00); /* rounds to >= 65520: inf */
    if (ax < 0x38800000u) {                                /* result is subnormal or zero */
        /* value * 2^24 rounded to nearest even gives the subnormal mantissa */
        float v = bits_f32(ax) * 16777216.0f;
        /* nearbyint uses the current rounding mode (nearest even by default) */
        uint32_t m = (uint32_t)__builtin_nearbyintf(v);
        return (ol_f16)(sign | m);
    }
    uint32_t mant_odd = (ax >> 13) & 1;
    ax += 0xfff + mant_odd; /* round to nearest even on the 13 dropped bits */
    return (ol_f16)(sign | (((ax >> 23) - 112) << 10) | ((ax >> 13) & 0x3ff));
}

ol_bf16 ol_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (ol_bf16)((u >> 16) | 64);
    return (ol_bf16)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

int ol_file_map(const char *path, const void **data, size_t *size, ol_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ol_err_set(err, OL_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ol_err_set(err, OL_EIO, "%s: not a regular file", path);
    }
    *size = (size_t)st.st_size;
    *data = "";
    if (*size > 0) {
        void *p = mmap(NULL, *size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return ol_err_set(err, OL_EIO, "%s: mmap failed: %s", path, strerror(e));
        }
        *data = p;
    }
    close(fd);
    return 0;
}

void ol_file_unmap(const void *data, size_t size) {
    if (data && size > 0) munmap((void *)data, size);
}

char *ol_read_file(const char *path, size_t *size_out, ol_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        ol_err_set(err, OL_EIO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) {
        ol_err_set(err, OL_ENOMEM, "%s: out of memory reading file", path);
        return NULL;
    }
    if (bad) {
        free(buf);
        ol_err_set(err, OL_EIO, "%s: read error", path);
        return NULL;
    }
    buf[n] = 0;
    if (size_out) *size_out = n;
    return buf;
}

uint64_t ol_hash_fnv1a(const void *data, size_t n, uint64_t seed) {
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

void ol_split_range(int64_t n, int64_t align, int ith, int nth, int64_t *begin, int64_t *end) {
    if (align < 1) align = 1;
    int64_t units = (n + align - 1) / align;
    int64_t per = units / nth, rem = units % nth;
    int64_t b = ith * per + (ith < rem ? ith : rem);
    int64_t e = b + per + (ith < rem ? 1 : 0);
    b *= align;
    e *= align;
    *begin = b < n ? b : n;
    *end = e < n ? e : n;
}
