/*
 * filter_gen.c -- random payloads and random filters for the property
 * tests of the filter module (test_filter.c) and of the payload blob
 * (test_payload.c).  Seeded, so a failing case can be replayed; the
 * generator state is the test process's own.
 */
#include "filter_gen.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)((rng_state >> 33) % n);
}

static const char *const KEYS[] = {"a", "b", "c", "d"};
/* Plain, cased and punctuated words (for full-text tokens), and one UUID
 * spelt two ways (for uuid indexes, which compare parsed UUIDs). */
static const char *const STRS[] = {"x",
                                   "y",
                                   "xy",
                                   "red apple",
                                   "apple pie",
                                   "",
                                   "Red-Apple",
                                   "apple, PIE!",
                                   "550e8400-e29b-41d4-a716-446655440000",
                                   "550E8400-E29B-41D4-A716-446655440000"};
#define N_STRS 10
static const char *const DTS[] = {
    "2024-01-01T00:00:00Z", "2024-01-01T12:30:00.25Z",
    "2024-01-02T00:00:00+01:00", "2023-12-31", "2024-01-01T10:00:00-02:30"};

static cJSON *rand_scalar(void)
{
    switch (rnd(8)) {
    case 0:
        return cJSON_CreateNull();
    case 1:
        return cJSON_CreateBool(rnd(2));
    case 2:
    case 3:
        return cJSON_CreateNumber((double)rnd(7) - 3);
    case 4:
        return cJSON_CreateNumber(((double)rnd(13) - 6) / 2);
    case 5:
        return cJSON_CreateString(STRS[rnd(N_STRS)]);
    case 6:
        return cJSON_CreateString(DTS[rnd(5)]);
    default: {
        cJSON *g = cJSON_CreateObject();
        cJSON_AddNumberToObject(g, "lon", (double)rnd(21) - 10);
        cJSON_AddNumberToObject(g, "lat", (double)rnd(21) - 10);
        return g;
    }
    }
}

static cJSON *rand_value(int depth)
{
    uint32_t k = rnd(depth > 0 ? 10 : 6);
    if (k < 5)
        return rand_scalar();
    if (k < 8) {
        cJSON *a = cJSON_CreateArray();
        for (uint32_t i = rnd(4); i > 0; i--)
            cJSON_AddItemToArray(a, depth > 0 && rnd(3) == 0
                                        ? rand_value(depth - 1)
                                        : rand_scalar());
        return a;
    }
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < 4; i++)
        if (rnd(2))
            cJSON_AddItemToObject(o, KEYS[i], rand_value(depth - 1));
    return o;
}

static const char *rand_key(char *buf, size_t cap)
{
    static const char *const suffix[] = {"", "[]", "[0]", "[1]"};
    const char *k1 = KEYS[rnd(4)];
    switch (rnd(4)) {
    case 0:
    case 1:
        snprintf(buf, cap, "%s", k1);
        break;
    case 2:
        snprintf(buf, cap, "%s%s.%s", k1, suffix[rnd(4)], KEYS[rnd(4)]);
        break;
    default:
        snprintf(buf, cap, "%s%s", k1, suffix[1 + rnd(3)]);
        break;
    }
    return buf;
}

static cJSON *rand_bounds(bool dt)
{
    static const char *const names[] = {"gt", "gte", "lt", "lte"};
    cJSON *r = cJSON_CreateObject();
    int added = 0;
    for (int i = 0; i < 4; i++)
        if (rnd(3) == 0 || (i == 3 && !added)) {
            added++;
            if (dt)
                cJSON_AddStringToObject(r, names[i], DTS[rnd(5)]);
            else
                cJSON_AddNumberToObject(r, names[i], ((double)rnd(9) - 4) / 2);
        }
    return r;
}

static cJSON *rand_point(double lon, double lat)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "lon", lon);
    cJSON_AddNumberToObject(p, "lat", lat);
    return p;
}

static cJSON *rand_ring(double x0, double y0, double x1, double y1)
{
    cJSON *r = cJSON_CreateObject();
    cJSON *pts = cJSON_AddArrayToObject(r, "points");
    cJSON_AddItemToArray(pts, rand_point(x0, y0));
    cJSON_AddItemToArray(pts, rand_point(x1, y0));
    cJSON_AddItemToArray(pts, rand_point((x0 + x1) / 2 + 0.5, y1));
    cJSON_AddItemToArray(pts, rand_point(x0, y1));
    cJSON_AddItemToArray(pts, rand_point(x0, y0));
    return r;
}

static cJSON *rand_filter(int depth);

static cJSON *rand_field(void)
{
    char key[64];
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "key", rand_key(key, sizeof(key)));
    uint32_t kind = rnd(14);
    cJSON *m;
    switch (kind) {
    case 0:
        m = cJSON_AddObjectToObject(c, "match");
        switch (rnd(3)) {
        case 0:
            cJSON_AddNumberToObject(m, "value", (double)rnd(7) - 3);
            break;
        case 1:
            cJSON_AddStringToObject(m, "value", STRS[rnd(N_STRS)]);
            break;
        default:
            cJSON_AddBoolToObject(m, "value", rnd(2));
        }
        break;
    case 1:
    case 2: {
        m = cJSON_AddObjectToObject(c, "match");
        cJSON *l = cJSON_AddArrayToObject(m, kind == 1 ? "any" : "except");
        bool strs = rnd(2);
        for (uint32_t i = rnd(4); i > 0; i--)
            cJSON_AddItemToArray(l,
                                 strs ? cJSON_CreateString(STRS[rnd(N_STRS)])
                                      : cJSON_CreateNumber((double)rnd(7) - 3));
        break;
    }
    case 3: {
        static const char *const tk[] = {"text", "phrase", "text_any",
                                         "prefix"};
        static const char *const tv[] = {
            "x", "apple",     "red pie",   "pp", "z q",
            "a", "APPLE red", "red apple", "!!", "pie"};
        m = cJSON_AddObjectToObject(c, "match");
        cJSON_AddStringToObject(m, tk[rnd(4)], tv[rnd(10)]);
        break;
    }
    case 4:
    case 5:
        cJSON_AddItemToObject(c, "range", rand_bounds(false));
        break;
    case 6:
        cJSON_AddItemToObject(c, "range", rand_bounds(true));
        break;
    case 7: {
        cJSON *v = cJSON_CreateObject();
        static const char *const names[] = {"gt", "gte", "lt", "lte"};
        cJSON_AddNumberToObject(v, names[rnd(4)], rnd(4));
        cJSON_AddItemToObject(c, "values_count", v);
        break;
    }
    case 8:
        cJSON_AddBoolToObject(c, rnd(2) ? "is_empty" : "is_null", rnd(2));
        break;
    case 9: {
        cJSON *g = cJSON_AddObjectToObject(c, "geo_radius");
        cJSON_AddItemToObject(
            g, "center",
            rand_point((double)rnd(21) - 10, (double)rnd(21) - 10));
        cJSON_AddNumberToObject(g, "radius", 100000.0 * (1 + rnd(10)));
        break;
    }
    case 10: {
        cJSON *g = cJSON_AddObjectToObject(c, "geo_bounding_box");
        double l = (double)rnd(21) - 10, t = (double)rnd(21) - 10;
        cJSON_AddItemToObject(g, "top_left", rand_point(l, t));
        cJSON_AddItemToObject(g, "bottom_right",
                              rand_point(l + rnd(10), t - rnd(10)));
        break;
    }
    case 11: {
        cJSON *g = cJSON_AddObjectToObject(c, "geo_polygon");
        double x = (double)rnd(10) - 10, y = (double)rnd(10) - 10;
        double w = 3 + rnd(12), h = 3 + rnd(12);
        cJSON_AddItemToObject(g, "exterior", rand_ring(x, y, x + w, y + h));
        if (rnd(2)) {
            cJSON *in = cJSON_AddArrayToObject(g, "interiors");
            cJSON_AddItemToArray(
                in, rand_ring(x + 1.25, y + 1.25, x + 2.75, y + 2.75));
        }
        break;
    }
    default:
        /* two parts ORed */
        m = cJSON_AddObjectToObject(c, "match");
        cJSON_AddStringToObject(m, "value", STRS[rnd(N_STRS)]);
        cJSON_AddItemToObject(c, "range", rand_bounds(false));
        break;
    }
    return c;
}

static cJSON *rand_cond(int depth)
{
    char key[64];
    uint32_t k = rnd(depth > 0 ? 12 : 9);
    if (k < 6)
        return rand_field();
    if (k == 6 || k == 7) {
        cJSON *c = cJSON_CreateObject();
        cJSON *f = cJSON_AddObjectToObject(c, k == 6 ? "is_empty" : "is_null");
        cJSON_AddStringToObject(f, "key", rand_key(key, sizeof(key)));
        return c;
    }
    if (k == 8) {
        cJSON *c = cJSON_CreateObject();
        cJSON *l = cJSON_AddArrayToObject(c, "has_id");
        for (uint32_t i = rnd(3); i > 0; i--)
            cJSON_AddItemToArray(l, cJSON_CreateNumber(rnd(5)));
        return c;
    }
    if (k == 9) {
        cJSON *c = cJSON_CreateObject();
        cJSON *n = cJSON_AddObjectToObject(c, "nested");
        cJSON_AddStringToObject(n, "key", KEYS[rnd(4)]);
        cJSON_AddItemToObject(n, "filter", rand_filter(depth - 1));
        return c;
    }
    return rand_filter(depth - 1);
}

static cJSON *rand_list(int depth)
{
    if (rnd(4) == 0)
        return rand_cond(depth);
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = rnd(4); i > 0; i--)
        cJSON_AddItemToArray(a, rand_cond(depth));
    return a;
}

static cJSON *rand_filter(int depth)
{
    static const char *const names[] = {"must", "should", "must_not"};
    cJSON *f = cJSON_CreateObject();
    for (int i = 0; i < 3; i++)
        if (rnd(2))
            cJSON_AddItemToObject(f, names[i], rand_list(depth));
    if (rnd(4) == 0) {
        cJSON *ms = cJSON_AddObjectToObject(f, "min_should");
        cJSON *l = cJSON_AddArrayToObject(ms, "conditions");
        uint32_t n = rnd(4);
        for (uint32_t i = 0; i < n; i++)
            cJSON_AddItemToArray(l, rand_cond(depth));
        cJSON_AddNumberToObject(ms, "min_count", 1 + rnd(3));
    }
    return f;
}

void gen_seed(uint64_t seed)
{
    rng_state = seed;
}

uint32_t gen_rnd(uint32_t n)
{
    return rnd(n);
}

cJSON *gen_value(int depth)
{
    return rand_value(depth);
}

cJSON *gen_filter(int depth)
{
    return rand_filter(depth);
}

const char *gen_key(unsigned i)
{
    return KEYS[i % 4];
}
