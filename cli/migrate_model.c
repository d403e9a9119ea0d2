/*
 * migrate_model.c -- the collection model of `quiver migrate` (schemas,
 * batches) and the helpers every endpoint shares (see migrate.h).
 *
 * A batch is kept column by column, one float array per vector, because
 * that is what the library's qv_upsert_with_payloads takes; a REST
 * endpoint reads and writes it row by row.  Payloads are kept as the JSON
 * text they arrived in, never parsed into numbers here.
 */
#include "migrate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

qv_status mg_fail(mg_endpoint *e, qv_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, sizeof(e->err), fmt, ap);
    va_end(ap);
    return st;
}

void mg_schema_free(mg_schema *s)
{
    for (size_t i = 0; i < s->n_vectors; i++)
        free(s->vectors[i].name);
    for (size_t i = 0; i < s->n_indexes; i++) {
        free(s->indexes[i].key);
        free(s->indexes[i].schema);
        free(s->indexes[i].type);
    }
    free(s->vectors);
    free(s->indexes);
    free(s->rest_vectors);
    free(s->rest_hnsw);
    free(s->rest_quantization);
    free(s->rest_sparse);
    memset(s, 0, sizeof(*s));
}

int mg_schema_vector(const mg_schema *s, const char *name)
{
    for (size_t i = 0; i < s->n_vectors; i++) {
        const char *v = s->vectors[i].name;
        if ((!v && !name) || (v && name && !strcmp(v, name)))
            return (int)i;
    }
    return -1;
}

const char *mg_kind_name(mg_kind k)
{
    return k == MG_SPARSE ? "sparse" : k == MG_MULTI ? "multivector" : "dense";
}

static const char *vector_label(const mg_vector *v)
{
    return v->name ? v->name : "(unnamed)";
}

bool mg_vectors_match(const char *name, const mg_schema *have,
                      const mg_schema *want, char *err, size_t cap)
{
    if (have->named != want->named || have->n_vectors != want->n_vectors) {
        snprintf(err, cap,
                 "destination collection '%s' exists with %zu %s vector(s), "
                 "the source has %zu %s vector(s)",
                 name, have->n_vectors, have->named ? "named" : "unnamed",
                 want->n_vectors, want->named ? "named" : "unnamed");
        return false;
    }
    for (size_t i = 0; i < want->n_vectors; i++) {
        const mg_vector *w = &want->vectors[i];
        int j = mg_schema_vector(have, w->name);
        if (j < 0) {
            snprintf(err, cap,
                     "destination collection '%s' exists without the "
                     "vector '%s'",
                     name, vector_label(w));
            return false;
        }
        const mg_vector *h = &have->vectors[j];
        if (h->kind != w->kind) {
            snprintf(err, cap,
                     "destination collection '%s' exists with a %s vector "
                     "%s; the source's is a %s vector",
                     name, mg_kind_name(h->kind), vector_label(w),
                     mg_kind_name(w->kind));
            return false;
        }
        if (w->kind == MG_SPARSE)
            continue;
        if (h->dim != w->dim || h->metric != w->metric) {
            snprintf(err, cap,
                     "destination collection '%s' exists with vector %s of "
                     "size %u (%s); the source's has size %u (%s)",
                     name, vector_label(w), h->dim, qv_metric_name(h->metric),
                     w->dim, qv_metric_name(w->metric));
            return false;
        }
    }
    return true;
}

/* ---- batches -------------------------------------------------------------
 */

qv_status mg_batch_init(mg_batch *b, const mg_schema *s, size_t cap)
{
    memset(b, 0, sizeof(*b));
    b->cap = cap;
    b->n_vectors = s->n_vectors;
    size_t nv = s->n_vectors ? s->n_vectors : 1;
    b->dims = calloc(nv, sizeof(*b->dims));
    b->kinds = calloc(nv, sizeof(*b->kinds));
    b->vecs = calloc(nv, sizeof(*b->vecs));
    b->cnt = calloc(nv, sizeof(*b->cnt));
    b->idx = calloc(nv, sizeof(*b->idx));
    b->val = calloc(nv, sizeof(*b->val));
    b->has = calloc(nv, sizeof(*b->has));
    b->ids = calloc(cap, sizeof(*b->ids));
    b->payloads = calloc(cap, sizeof(*b->payloads));
    b->lens = calloc(cap, sizeof(*b->lens));
    if (!b->dims || !b->kinds || !b->vecs || !b->cnt || !b->idx || !b->val ||
        !b->has || !b->ids || !b->payloads || !b->lens)
        goto fail;
    for (size_t v = 0; v < s->n_vectors; v++) {
        b->dims[v] = s->vectors[v].dim;
        b->kinds[v] = s->vectors[v].kind;
        b->has[v] = calloc(cap, sizeof(bool));
        if (!b->has[v])
            goto fail;
        if (b->kinds[v] != MG_DENSE) {
            b->cnt[v] = calloc(cap, sizeof(uint32_t));
            b->idx[v] = calloc(cap, sizeof(uint32_t *));
            b->val[v] = calloc(cap, sizeof(float *));
            if (!b->cnt[v] || !b->idx[v] || !b->val[v])
                goto fail;
            continue;
        }
        if ((size_t)b->dims[v] > SIZE_MAX / sizeof(float) / cap)
            goto fail;
        b->vecs[v] = calloc(cap * b->dims[v], sizeof(float));
        if (!b->vecs[v])
            goto fail;
    }
    return QV_OK;
fail:
    mg_batch_free(b);
    return QV_ENOMEM;
}

void mg_batch_clear(mg_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->payloads[i]);
        b->payloads[i] = NULL;
    }
    for (size_t v = 0; v < b->n_vectors && b->has; v++) {
        if (b->has[v])
            memset(b->has[v], 0, b->cap * sizeof(bool));
        for (size_t i = 0; b->idx && b->idx[v] && b->val[v] && i < b->cap;
             i++) {
            free(b->idx[v][i]);
            free(b->val[v][i]);
            b->idx[v][i] = NULL;
            b->val[v][i] = NULL;
            b->cnt[v][i] = 0;
        }
    }
    b->n = 0;
}

void mg_batch_free(mg_batch *b)
{
    if (b->payloads)
        mg_batch_clear(b);
    for (size_t v = 0; v < b->n_vectors; v++) {
        if (b->vecs)
            free(b->vecs[v]);
        if (b->has)
            free(b->has[v]);
        if (b->cnt)
            free(b->cnt[v]);
        if (b->idx)
            free(b->idx[v]);
        if (b->val)
            free(b->val[v]);
    }
    free(b->dims);
    free(b->kinds);
    free(b->cnt);
    free(b->idx);
    free(b->val);
    free(b->vecs);
    free(b->has);
    free(b->ids);
    free(b->payloads);
    free(b->lens);
    memset(b, 0, sizeof(*b));
}

long mg_batch_add(mg_batch *b, const qv_point_id *id, const char *json,
                  size_t len)
{
    if (b->n >= b->cap)
        return -1;
    if (!json) {
        json = "{}";
        len = 2;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, json, len);
    copy[len] = 0;
    b->ids[b->n] = *id;
    b->payloads[b->n] = copy;
    b->lens[b->n] = len;
    return (long)b->n++;
}

/* Sorts the pairs (idx[i], val[i]) by index: insertion sort, which is
 * linear on the ascending input every source gives. */
static void sort_pairs(uint32_t *idx, float *val, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        uint32_t k = idx[i];
        float x = val[i];
        uint32_t j = i;
        for (; j > 0 && idx[j - 1] > k; j--) {
            idx[j] = idx[j - 1];
            val[j] = val[j - 1];
        }
        idx[j] = k;
        val[j] = x;
    }
}

qv_status mg_batch_set_var(mg_batch *b, size_t v, size_t row, uint32_t count,
                           uint32_t *idx, float *val)
{
    if (v >= b->n_vectors || row >= b->n || b->kinds[v] == MG_DENSE) {
        free(idx);
        free(val);
        return QV_EINVAL;
    }
    free(b->idx[v][row]);
    free(b->val[v][row]);
    b->idx[v][row] = idx;
    b->val[v][row] = val;
    b->cnt[v][row] = count;
    b->has[v][row] = true;
    if (b->kinds[v] == MG_SPARSE && idx) {
        sort_pairs(idx, val, count);
        for (uint32_t i = 1; i < count; i++)
            if (idx[i] == idx[i - 1])
                return QV_EINVAL;
    }
    return QV_OK;
}
