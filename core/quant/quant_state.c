/*
 * quant_state.c -- a quantizer as a file keeps it: its trained state and
 * its codes, restored without training, and the deep check of codes that
 * came from a file.
 *
 * Why keep the codes
 * ------------------
 * Codes are derived from the vectors, but deriving them again is not free
 * and not even the same: training reads a sample of the points present
 * *now*, while the codes in memory were trained on the points present at
 * the last (re)training (collection_quant.c, "When codes are made"), so a
 * rebuild at open may choose another int8 range, other binary statistics
 * or other product codebooks, and searches would answer differently
 * after a save and an open.  It is also slow: encoding a million vectors
 * of 768 components takes seconds, and product training runs k-means.
 * Qdrant keeps its quantized vectors in files beside the segment
 * (lib/segment/src/vector_storage/quantized/quantized_vectors.rs: the
 * encoded data and a metadata file with the trained parameters) and
 * loads them without retraining; so does Quiver's snapshot
 * (persist/snapshot_quant.c, docs/FORMAT.md sections 65-67).
 *
 * Borrowing: qvi_quant_restore points q at codes (and int8 corrections)
 * that lie in a snapshot's private mapping.  q writes them in place (an
 * upsert encodes into the slot's row: the kernel copies the touched
 * page), never frees them (q->borrowed), and its first growth copies them
 * into owned memory (qvi_quant_reserve), as the collection does with its
 * vectors.  The small trained tables (binary statistics, product
 * codebooks: at most 256 floats a component) are copied.
 *
 * Trust: the leaf checks what a quantizer needs to stay memory-safe and
 * finite -- nothing it reads is indexed by a stored value except product
 * codes, whose bytes index a 256-entry table row and so cannot leave it --
 * and qvi_quant_check_codes adds the deep check of the codes themselves
 * for QV_SNAPSHOT_VERIFY and for the save of a collection whose codes
 * came from an unverified file.
 */
#include "core/quant/quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t qvi_quant_table_floats(const qvi_quant *q)
{
    if (q->p.kind == QV_QUANTIZATION_PRODUCT)
        return (size_t)q->m * 256 * q->bucket;
    if (q->p.kind == QV_QUANTIZATION_BINARY &&
        q->p.encoding != QV_BINARY_ONE_BIT)
        return 2 * (size_t)q->dim;
    return 0;
}

void qvi_quant_tables(const qvi_quant *q, float *out)
{
    size_t n = qvi_quant_table_floats(q);
    if (q->p.kind == QV_QUANTIZATION_PRODUCT) {
        memcpy(out, q->cent, n * sizeof(float));
    } else if (n) {
        memcpy(out, q->mean, q->dim * sizeof(float));
        memcpy(out + q->dim, q->sd, q->dim * sizeof(float));
    }
}

static bool all_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return false;
    return true;
}

qv_status qvi_quant_restore(qvi_quant *q, float alpha, float offset,
                            const float *tables, size_t n_tables,
                            uint8_t *codes, float *corr, uint32_t n, char *msg,
                            size_t cap)
{
    if (!q || (n_tables && !tables) || (n && !codes))
        return QV_ENULL;
    bool int8 = q->p.kind == QV_QUANTIZATION_INT8;
    if (q->trained && !(q->p.kind == QV_QUANTIZATION_BINARY &&
                        q->p.encoding == QV_BINARY_ONE_BIT)) {
        snprintf(msg, cap, "the quantizer is already trained");
        return QV_EINVAL;
    }
    if (q->cap || q->codes) {
        snprintf(msg, cap, "the quantizer already has codes");
        return QV_EINVAL;
    }
    if (n_tables != qvi_quant_table_floats(q)) {
        snprintf(msg, cap, "%zu trained values, the quantizer needs %zu",
                 n_tables, qvi_quant_table_floats(q));
        return QV_EINVAL;
    }
    if (int8 && !(alpha > 0.0f && isfinite(alpha) && isfinite(offset))) {
        snprintf(msg, cap, "int8 scale %g and offset %g", (double)alpha,
                 (double)offset);
        return QV_EINVAL;
    }
    if (!all_finite(tables, n_tables)) {
        snprintf(msg, cap, "a trained value is not finite");
        return QV_EINVAL;
    }
    if ((uintptr_t)codes % 64 != 0) {
        snprintf(msg, cap, "the codes are not 64-byte aligned");
        return QV_EINVAL;
    }
    if (int8 && n &&
        (!corr || (uintptr_t)corr % sizeof(float) != 0 ||
         !all_finite(corr, n))) {
        snprintf(msg, cap, "the int8 corrections are missing or not finite");
        return QV_EINVAL;
    }
    float *mean = NULL, *sd = NULL, *cent = NULL;
    if (q->p.kind == QV_QUANTIZATION_PRODUCT) {
        cent = malloc(n_tables * sizeof(float));
        if (!cent)
            return QV_ENOMEM;
        memcpy(cent, tables, n_tables * sizeof(float));
    } else if (n_tables) {
        for (uint32_t j = 0; j < q->dim; j++)
            if (tables[q->dim + j] < 0.0f) {
                snprintf(msg, cap, "component %u's deviation is negative", j);
                return QV_EINVAL;
            }
        mean = malloc(q->dim * sizeof(float));
        sd = malloc(q->dim * sizeof(float));
        if (!mean || !sd) {
            free(mean);
            free(sd);
            return QV_ENOMEM;
        }
        memcpy(mean, tables, q->dim * sizeof(float));
        memcpy(sd, tables + q->dim, q->dim * sizeof(float));
    }
    free(q->cent);
    free(q->mean);
    free(q->sd);
    q->cent = cent;
    q->mean = mean;
    q->sd = sd;
    if (int8) {
        q->alpha = alpha;
        q->offset = offset;
    }
    q->trained = true;
    q->codes = n ? codes : NULL;
    q->corr = int8 && n ? corr : NULL;
    q->cap = n;
    q->borrowed = n != 0;
    return QV_OK;
}

/* Bits of a binary code's last word past its ext bits. */
static uint64_t pad_mask(const qvi_quant *q)
{
    unsigned used = q->ext % 64;
    return used ? ~0ull << used : 0;
}

static bool row_ok(const qvi_quant *q, uint32_t s)
{
    const uint8_t *c = q->codes + (size_t)s * q->row;
    if (q->p.kind == QV_QUANTIZATION_BINARY) {
        uint64_t last;
        memcpy(&last, c + (q->words - 1) * sizeof(uint64_t), sizeof(last));
        return (last & pad_mask(q)) == 0;
    }
    size_t used = q->p.kind == QV_QUANTIZATION_PRODUCT ? q->m : q->dim;
    for (size_t i = used; i < q->row; i++)
        if (c[i])
            return false;
    if (q->p.kind == QV_QUANTIZATION_PRODUCT)
        return true;
    uint32_t sum = 0;
    for (uint32_t j = 0; j < q->dim; j++) {
        if (c[j] > 127)
            return false;
        sum += c[j];
    }
    /* The same function encoding used, on the same values: equal bits. */
    return q->corr[s] == qvi_q8_correction(q, sum);
}

qv_status qvi_quant_check_codes(const qvi_quant *q, const uint8_t *live,
                                uint32_t n, uint32_t *bad)
{
    if (!q || !bad || (n && !live)) /* an empty file has no live array */
        return QV_ENULL;
    if (n > q->cap) {
        *bad = q->cap;
        return QV_ECORRUPT;
    }
    for (uint32_t s = 0; s < n; s++) {
        if (live[s] && !row_ok(q, s)) {
            *bad = s;
            return QV_ECORRUPT;
        }
    }
    return QV_OK;
}
