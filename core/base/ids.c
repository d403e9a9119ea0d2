/*
 * ids.c -- point ids: parsing, formatting, ordering and hashing.
 *
 * A point id is Qdrant's ExtendedPointId: an unsigned 64-bit integer or a
 * UUID.  The UUID parser accepts exactly what Rust's uuid crate (1.x)
 * accepts in Uuid::parse_str, which is what Qdrant runs its ids through:
 *
 *   32 bytes   simple       67e5504410b1426f9247bb680e5fe0c8
 *   36 bytes   hyphenated   67e55044-10b1-426f-9247-bb680e5fe0c8
 *   38 bytes   braced       {67e55044-10b1-426f-9247-bb680e5fe0c8}
 *   45 bytes   URN          urn:uuid:67e55044-10b1-426f-9247-bb680e5fe0c8
 *
 * Hex digits may be in either case; the "urn:uuid:" prefix is lowercase
 * only, and braces and the URN prefix wrap only the hyphenated form (as in
 * the crate, "{<32 hex>}" is refused).  Nothing else is accepted: no
 * whitespace, no sign, no trailing bytes.  The text form written is always
 * lowercase hyphenated, so parse(format(id)) == id for every UUID.
 *
 * Order (Qdrant's): every integer before every UUID, integers numerically,
 * UUIDs by their 16 bytes, which is the order of their text form.
 *
 * The hash feeds the id map (idmap.c).  It is xxHash3 over a fixed byte
 * encoding -- kind byte, then the value (integer little-endian, UUID bytes
 * as stored) -- so it is the same on every run and every host.  It is not
 * keyed: an adversary who can choose ids can make them collide.
 *
 * Everything here is pure and thread-safe.
 */
#include "core/base/base.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

/* Value of an ASCII hex digit, or -1. */
static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes 32 hex digits at s into 16 bytes; skips the hyphens of a
 * hyphenated UUID when hyphenated is set (their places are checked by the
 * caller).  Returns false on a non-hex digit. */
static bool decode_hex(const char *s, bool hyphenated, uint8_t out[16])
{
    size_t pos = 0;
    for (int i = 0; i < 16; i++) {
        if (hyphenated && (pos == 8 || pos == 13 || pos == 18 || pos == 23))
            pos++;
        int hi = hex_value((unsigned char)s[pos]);
        int lo = hex_value((unsigned char)s[pos + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
        pos += 2;
    }
    return true;
}

/* A 36-byte hyphenated UUID at s (length already checked). */
static bool parse_hyphenated(const char *s, uint8_t out[16])
{
    if (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
        return false;
    return decode_hex(s, true, out);
}

/* Dispatches on length exactly as the uuid crate's try_parse does.  The
 * length scan stops at 46 bytes: nothing longer can be valid, and an
 * unterminated huge string is not read to its end. */
static bool parse_uuid_text(const char *text, uint8_t out[16])
{
    size_t len = strnlen(text, 46);
    switch (len) {
    case 32:
        return decode_hex(text, false, out);
    case 36:
        return parse_hyphenated(text, out);
    case 38:
        if (text[0] != '{' || text[37] != '}')
            return false;
        return parse_hyphenated(text + 1, out);
    case 45:
        if (memcmp(text, "urn:uuid:", 9) != 0)
            return false;
        return parse_hyphenated(text + 9, out);
    default:
        return false;
    }
}

qv_point_id qv_id_from_num(uint64_t num)
{
    qv_point_id id;
    memset(&id, 0, sizeof(id));
    id.kind = QV_ID_NUM;
    id.u.num = num;
    return id;
}

qv_status qv_id_parse_uuid(const char *text, qv_point_id *out)
{
    if (!text || !out)
        return QV_ENULL;
    uint8_t bytes[16];
    if (!parse_uuid_text(text, bytes))
        return QV_EINVAL;
    memset(out, 0, sizeof(*out));
    out->kind = QV_ID_UUID;
    memcpy(out->u.uuid, bytes, 16);
    return QV_OK;
}

/* Writes the 36-character lowercase hyphenated form and a NUL to buf. */
static void format_uuid(const uint8_t b[16], char buf[QV_UUID_STRLEN])
{
    static const char digits[] = "0123456789abcdef";
    size_t pos = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            buf[pos++] = '-';
        buf[pos++] = digits[b[i] >> 4];
        buf[pos++] = digits[b[i] & 15];
    }
    buf[pos] = '\0';
}

qv_status qv_id_format(const qv_point_id *id, char *buf, size_t cap)
{
    if (!id || !buf)
        return QV_ENULL;
    if (!qvi_id_valid(id))
        return QV_EINVAL;
    /* Format into a local buffer first so that a too-small buf is left
     * untouched, as every failed call leaves its outputs. */
    char tmp[QV_UUID_STRLEN];
    size_t len;
    if (id->kind == QV_ID_NUM) {
        len = (size_t)snprintf(tmp, sizeof(tmp), "%" PRIu64, id->u.num);
    } else {
        format_uuid(id->u.uuid, tmp);
        len = QV_UUID_STRLEN - 1;
    }
    if (cap < len + 1)
        return QV_ERANGE;
    memcpy(buf, tmp, len + 1);
    return QV_OK;
}

/*
 * Total order.  NULL sorts before everything and malformed kinds after
 * both valid kinds (by kind, then by their raw 16 value bytes), so that a
 * sort never sees an inconsistent comparator whatever it is given.  The
 * reserved field is ignored, as in qvi_id_equal.
 */
int qv_id_compare(const qv_point_id *a, const qv_point_id *b)
{
    if (!a || !b)
        return (a != NULL) - (b != NULL);
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->kind == QV_ID_NUM)
        return (a->u.num > b->u.num) - (a->u.num < b->u.num);
    int c = memcmp(a->u.uuid, b->u.uuid, 16);
    return (c > 0) - (c < 0);
}

bool qvi_id_valid(const qv_point_id *id)
{
    return id && (id->kind == QV_ID_NUM || id->kind == QV_ID_UUID) &&
           id->reserved == 0;
}

/* Integers compare only their 8 bytes: the other 8 of the union are not
 * part of an integer id, whatever the caller left in them. */
bool qvi_id_equal(const qv_point_id *a, const qv_point_id *b)
{
    if (!a || !b || a->kind != b->kind)
        return false;
    if (a->kind == QV_ID_NUM)
        return a->u.num == b->u.num;
    return memcmp(a->u.uuid, b->u.uuid, 16) == 0;
}

uint64_t qvi_id_hash(const qv_point_id *id)
{
    if (!id)
        return 0;
    uint8_t buf[17];
    size_t len;
    buf[0] = (uint8_t)id->kind;
    if (id->kind == QV_ID_NUM) {
        for (int i = 0; i < 8; i++)
            buf[1 + i] = (uint8_t)(id->u.num >> (8 * i));
        len = 9;
    } else {
        memcpy(buf + 1, id->u.uuid, 16);
        len = 17;
    }
    return XXH3_64bits(buf, len);
}
