/* tests/unit/ledger/test_checkpoint.c: the ledger's signing key (create 0600 + .pub, reload, refuse
 * other key types and junk), signed checkpoint files (layout, signature over the message built
 * here independently, atomic write, hostile files), the entry hash against digests computed with
 * Python's hashlib, and the hex / id helpers. */
#define _GNU_SOURCE /* nftw */
#include "ledger/ledger_internal.h"
#include "test.h"

#include <dirent.h>
#include <ftw.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_root[256];

static const char *path_in(char *buf, const char *rel) {
    snprintf(buf, 512, "%s/%s", g_root, rel);
    return buf;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    return remove(p);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void test_hex_and_ids(void) {
    const uint8_t b[4] = {0x00, 0xab, 0x7f, 0xff};
    char hex[9];
    ol_ledger_hex(b, 4, hex);
    CHECK(strcmp(hex, "00ab7fff") == 0);
    uint8_t back[4];
    CHECK_EQ_INT(ol_ledger_unhex("00AB7fff", back, 4), 0);
    CHECK(memcmp(back, b, 4) == 0);
    CHECK_EQ_INT(ol_ledger_unhex("00ab7ff", back, 4), -1);    /* odd length */
    CHECK_EQ_INT(ol_ledger_unhex("00ab7fff00", back, 4), -1); /* too long */
    CHECK_EQ_INT(ol_ledger_unhex("00ab7fgf", back, 4), -1);   /* not hex */
    CHECK_EQ_INT(ol_ledger_unhex(NULL, back, 4), -1);

    char id[OL_LEDGER_ID_MAX + 2];
    memset(id, 'x', sizeof(id));
    id[OL_LEDGER_ID_MAX] = 0;
    CHECK(ol_ledger_id_valid(id, false)); /* exactly the maximum */
    id[OL_LEDGER_ID_MAX] = 'x';
    id[OL_LEDGER_ID_MAX + 1] = 0;
    CHECK(!ol_ledger_id_valid(id, false));
    CHECK(ol_ledger_id_valid("req-1!~", false));
    CHECK(!ol_ledger_id_valid("", false));
    CHECK(ol_ledger_id_valid("", true));
    CHECK(!ol_ledger_id_valid("a b", true));
    CHECK(!ol_ledger_id_valid("a\x7f", true));
    CHECK(!ol_ledger_id_valid("caf\xc3\xa9", true));
    CHECK(!ol_ledger_id_valid(NULL, true));
}

static void test_key_create_load(void) {
    char path[512], pub_path[512];
    path_in(path, "keys/ledger.pem");
    path_in(pub_path, "keys/ledger.pem.pub");
    ol_err err = {0};
    CHECK(ol_ledger_key_load_or_create(path, &err) == NULL); /* keys/ does not exist */
    CHECK_STR_CONTAINS(err.msg, path);
    mkdir(path_in((char[512]){0}, "keys"), 0700);

    EVP_PKEY *k = ol_ledger_key_load_or_create(path, &err);
    CHECK(k != NULL);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(stat(pub_path, &st) == 0);
    uint8_t pub[32], pub2[32], pub3[32], pub4[32];
    CHECK_EQ_INT(ol_ledger_key_public(k, pub), 0);

    EVP_PKEY *again = ol_ledger_key_load_or_create(path, &err); /* loads, does not replace */
    EVP_PKEY *from_pub = ol_ledger_key_load(pub_path, &err);
    EVP_PKEY *from_priv = ol_ledger_key_load(path, &err);
    CHECK(again && from_pub && from_priv);
    if (again && from_pub && from_priv) {
        CHECK_EQ_INT(ol_ledger_key_public(again, pub2), 0);
        CHECK_EQ_INT(ol_ledger_key_public(from_pub, pub3), 0);
        CHECK_EQ_INT(ol_ledger_key_public(from_priv, pub4), 0);
        CHECK(!memcmp(pub, pub2, 32) && !memcmp(pub, pub3, 32) && !memcmp(pub, pub4, 32));
    }
    /* The public key cannot sign: load_or_create wants a private key. */
    CHECK(ol_ledger_key_load_or_create(pub_path, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "private");
    CHECK(ol_ledger_key_load(path_in((char[512]){0}, "keys/missing.pem"), &err) == NULL);
    CHECK_EQ_INT(err.code, OL_ENOENT);
    CHECK_EQ_INT(ol_ledger_key_public(NULL, pub), OL_EINVAL);
    EVP_PKEY_free(again);
    EVP_PKEY_free(from_pub);
    EVP_PKEY_free(from_priv);
    EVP_PKEY_free(k);
}

/* An EC key (private and public) and junk must be refused with the file named. */
static void test_key_wrong_type(void) {
    char priv[512], pub[512], junk[512];
    path_in(priv, "ec.pem");
    path_in(pub, "ec.pub");
    path_in(junk, "junk.pem");
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    CHECK(ec != NULL);
    if (!ec) return;
    FILE *f = fopen(priv, "w");
    CHECK(f && PEM_write_PrivateKey(f, ec, NULL, NULL, 0, NULL, NULL) == 1);
    if (f) fclose(f);
    f = fopen(pub, "w");
    CHECK(f && PEM_write_PUBKEY(f, ec) == 1);
    if (f) fclose(f);
    EVP_PKEY_free(ec);
    write_text(junk, "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n");

    ol_err err = {0};
    CHECK(ol_ledger_key_load_or_create(priv, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, priv);
    CHECK_STR_CONTAINS(err.msg, "not Ed25519");
    CHECK(ol_ledger_key_load(pub, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, pub);
    CHECK_STR_CONTAINS(err.msg, "not Ed25519");
    CHECK(ol_ledger_key_load(junk, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, junk);
    CHECK(ol_ledger_key_load_or_create(junk, &err) == NULL);
    CHECK_EQ_INT(err.code, OL_EFORMAT);
    struct stat st; /* refusing must not replace the file with a new key */
    CHECK(stat(junk, &st) == 0 && st.st_size > 40);
}

/* The signed message, built here from the layout in ledger.h rather than by checkpoint.c. */
static void message(int64_t size, const uint8_t head[32], int64_t time_ns, uint8_t m[78]) {
    memcpy(m, "openlora-ledger-checkpoint-v1", 30); /* 29 characters and the NUL */
    for (int i = 0; i < 8; i++) m[30 + i] = (uint8_t)((uint64_t)size >> (56 - 8 * i));
    memcpy(m + 38, head, 32);
    for (int i = 0; i < 8; i++) m[70 + i] = (uint8_t)((uint64_t)time_ns >> (56 - 8 * i));
}

static bool verifies(EVP_PKEY *k, const uint8_t sig[64], const uint8_t *m, size_t n) {
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    bool ok = c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) == 1 &&
              EVP_DigestVerify(c, sig, 64, m, n) == 1;
    EVP_MD_CTX_free(c);
    return ok;
}

static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    if (d) closedir(d);
    return n;
}

static void check_json(const char *file, EVP_PKEY *k, const uint8_t head[32], int64_t t) {
    json_error_t je;
    json_t *o = json_load_file(file, 0, &je);
    CHECK(json_is_object(o));
    uint8_t pub[32], got_pub[32], got_head[32], sig[64], m[78];
    ol_ledger_key_public(k, pub);
    CHECK_EQ_INT(json_object_size(o), 6);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "version")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "size")), 5);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "time_ns")), t);
    CHECK(ol_ledger_unhex(json_string_value(json_object_get(o, "head")), got_head, 32) == 0);
    CHECK(ol_ledger_unhex(json_string_value(json_object_get(o, "public_key")), got_pub, 32) == 0);
    CHECK(ol_ledger_unhex(json_string_value(json_object_get(o, "signature")), sig, 64) == 0);
    CHECK(!memcmp(got_head, head, 32) && !memcmp(got_pub, pub, 32));
    message(5, head, t, m);
    CHECK(verifies(k, sig, m, sizeof(m)));
    m[77] ^= 1; /* another time_ns */
    CHECK(!verifies(k, sig, m, sizeof(m)));
    json_decref(o);
}

static void test_checkpoint_write(void) {
    char key[512], dir[512], file[512];
    ol_err err = {0};
    EVP_PKEY *k = ol_ledger_key_load_or_create(path_in(key, "cp.pem"), &err);
    CHECK(k != NULL);
    if (!k) return;
    uint8_t head[32];
    for (int i = 0; i < 32; i++) head[i] = (uint8_t)(0xa0 + i);
    const int64_t t = 1764320000123456789LL;
    path_in(dir, "cps/a/b");
    CHECK_EQ_INT(ol_ledger_checkpoint_write(dir, k, 5, head, t, &err), 0);
    CHECK_EQ_INT(ol_ledger_checkpoint_write(dir, k, 5, head, t, &err), 0); /* replaces */
    path_in(file, "cps/a/b/checkpoint-000000000005.json");
    check_json(file, k, head, t);
    CHECK_EQ_INT(count_files(dir), 1); /* no temp file left behind */
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK_EQ_INT(ol_ledger_checkpoint_write(dir, NULL, 5, head, t, &err), OL_EINVAL);

    ol_ledger_checkpoint cp;
    CHECK_EQ_INT(ol_ledger_checkpoint_read(file, &cp, &err), 0);
    CHECK_EQ_INT(cp.size, 5);
    CHECK_EQ_INT(cp.time_ns, t);
    CHECK(!memcmp(cp.head, head, 32));
    CHECK(ol_ledger_checkpoint_signed_by(&cp, k));
    cp.head[0] ^= 1;
    CHECK(!ol_ledger_checkpoint_signed_by(&cp, k));
    EVP_PKEY_free(k);
}

/* Hostile checkpoint files: each is refused as OL_EFORMAT, with size known once it was read. */
static void test_checkpoint_hostile(void) {
    const char *hex64 = "0000000000000000000000000000000000000000000000000000000000000000";
    char ok_sig[129];
    memset(ok_sig, 'a', 128);
    ok_sig[128] = 0;
    static const struct {
        const char *fmt;
        int64_t size;
    } cases[] = {
        {"not json", -1},
        {"[1,2]", -1},
        {"{\"version\":2,\"size\":5}", -1},
        {"{\"version\":1,\"size\":\"5\"}", -1},
        {"{\"version\":1,\"size\":-5}", -1},
        {"{\"version\":1,\"size\":5,\"time_ns\":1.5}", 5},
        {"{\"version\":1,\"size\":5,\"time_ns\":1,\"head\":\"%s0\"}", 5},
        {"{\"version\":1,\"size\":5,\"time_ns\":1,\"head\":\"%s\",\"public_key\":7}", 5},
        {"{\"version\":1,\"size\":5,\"time_ns\":1,\"head\":\"%s\",\"public_key\":\"%s\","
         "\"signature\":\"ab\"}",
         5},
        {"{\"version\":1,\"version\":1}", -1},
    };
    for (size_t i = 0; i < OL_ARRAY_LEN(cases); i++) {
        char path[512], text[1024];
        snprintf(text, sizeof(text), cases[i].fmt, hex64, hex64);
        write_text(path_in(path, "hostile.json"), text);
        ol_ledger_checkpoint cp;
        ol_err err = {0};
        CHECK_EQ_INT(ol_ledger_checkpoint_read(path, &cp, &err), OL_EFORMAT);
        CHECK_EQ_INT(cp.size, cases[i].size);
        CHECK_STR_CONTAINS(err.msg, path);
    }
    char path[512];
    char *big = malloc(10000);
    memset(big, ' ', 9999);
    big[9999] = 0;
    write_text(path_in(path, "big.json"), big);
    free(big);
    ol_ledger_checkpoint cp;
    CHECK_EQ_INT(ol_ledger_checkpoint_read(path, &cp, NULL), OL_EFORMAT);
    CHECK_EQ_INT(ol_ledger_checkpoint_read(path_in(path, "nope.json"), &cp, NULL), OL_EIO);
}

static void hex_check(const uint8_t h[32], const char *want) {
    char got[65];
    ol_ledger_hex(h, 32, got);
    if (strcmp(got, want)) fprintf(stderr, "hash %s, want %s\n", got, want);
    CHECK(strcmp(got, want) == 0);
}

/* Golden digests from hashlib (tools/ledger_hash.py's entry_hash agrees), e.g. the first:
 *   s = lambda b: struct.pack('>I', len(b)) + b
 *   hashlib.sha256(b'openlora-ledger-entry-v1\0' + struct.pack('>Qq', 17, 1764320000123456789)
 *       + s(b'usage') + s(b'key-abc') + b'\x01' + s(b'req-1')
 *       + s(b'{"adapter":"a","tokens":3}') + bytes(range(32))).hexdigest()
 * and the second, without a request id:
 *   hashlib.sha256(b'openlora-ledger-entry-v1\0' + struct.pack('>Qq', 1, -5) + s(b'adapter')
 *       + s(b'') + b'\x00' + s(b'{}') + bytes(32)).hexdigest() */
static void test_entry_hash(void) {
    const char *body = "{\"adapter\":\"a\",\"tokens\":3}";
    ol_ledger_entry e = {.seq = 17,
                         .time_ns = 1764320000123456789LL,
                         .kind = "usage",
                         .key_id = "key-abc",
                         .request_id = "req-1",
                         .body = body,
                         .body_len = strlen(body)};
    for (int i = 0; i < 32; i++) e.prev[i] = (uint8_t)i;
    uint8_t h[32];
    ol_ledger_entry_hash(&e, h);
    hex_check(h, "b5984c67dba40caf1ae78a2858cbd4dbb8be1402aee5e4d2063ba4e4d5835f1e");

    ol_ledger_entry g = {.seq = 1, .time_ns = -5, .kind = "adapter", .key_id = "", .body = "{}x"};
    g.body_len = 2; /* body_len, not strlen, bounds the body */
    ol_ledger_entry_hash(&g, h);
    hex_check(h, "49c5cdf0739a45d053cdd49ec2903493069608ee783a97afe2741fc4b2c366a8");
    g.request_id = ""; /* an empty request id is not the same as none */
    uint8_t h2[32];
    ol_ledger_entry_hash(&g, h2);
    CHECK(memcmp(h, h2, 32) != 0);
}

int main(void) {
    snprintf(g_root, sizeof(g_root), "%s/ol_test_checkpoint_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_root)) {
        perror("mkdtemp");
        return 1;
    }
    test_hex_and_ids();
    test_key_create_load();
    test_key_wrong_type();
    test_checkpoint_write();
    test_checkpoint_hostile();
    test_entry_hash();
    nftw(g_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return test_done("test_checkpoint");
}
