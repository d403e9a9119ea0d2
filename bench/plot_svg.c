/*
 * plot_svg.c -- the recall/QPS chart of `quiver bench` as a standalone SVG.
 *
 * The chart ann-benchmarks made the habit of: recall@k on x, queries per
 * second on a log-scale y, one polyline per engine through its ef sweep,
 * up and to the right is better.  It is written by hand, with no plotting
 * library, so a benchmark run needs nothing but the C library to produce a
 * picture a browser or `rsvg-convert` shows.
 *
 * Layout: a fixed 860 x 540 canvas, the plot on the left and the legend on
 * the right; x spans [floor(min recall to 0.1), 1]; y spans whole decades
 * around the measured QPS, with labelled gridlines at each decade and
 * faint ones at 2..9 times it.  A dashed vertical line marks the target
 * recall, where the report reads QPS off each curve.  Each marker carries a
 * <title> (engine, ef, recall, QPS), shown as a tooltip by browsers.
 */
#include "harness.h"

#include <math.h>
#include <string.h>

enum { W = 860, H = 540, ML = 80, MR = 190, MT = 56, MB = 62 };

static const char *const palette[] = {"#d62728", "#1f77b4", "#2ca02c",
                                      "#ff7f0e", "#9467bd", "#8c564b"};

/* A fixed colour for the known engines, so charts of two runs compare. */
static const char *engine_colour(const char *engine, size_t index)
{
    if (!strcmp(engine, "quiver"))
        return palette[0];
    if (!strcmp(engine, "hnswlib"))
        return palette[1];
    if (!strcmp(engine, "faiss"))
        return palette[2];
    return palette[3 + index % 3];
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

typedef struct frame {
    double x0, x1;   /* recall range */
    double ly0, ly1; /* log10 QPS range */
} frame;

static double px(const frame *fr, double recall)
{
    return ML + (recall - fr->x0) / (fr->x1 - fr->x0) * (W - ML - MR);
}

static double py(const frame *fr, double qps)
{
    return H - MB -
           (log10(qps) - fr->ly0) / (fr->ly1 - fr->ly0) * (H - MT - MB);
}

static int usable(const qvb_row *r)
{
    return isfinite(r->recall) && isfinite(r->qps) && r->qps > 0;
}

int qvb_write_svg(FILE *f, const qvb_run_info *info, const qvb_row *rows,
                  size_t n_rows, const qvb_engine_result *eng, size_t n_eng)
{
    frame fr = {1, 1, 0, 0};
    double qmin = INFINITY, qmax = 0;
    for (size_t i = 0; i < n_rows; i++) {
        if (!usable(&rows[i]))
            continue;
        fr.x0 = fmin(fr.x0, rows[i].recall);
        qmin = fmin(qmin, rows[i].qps);
        qmax = fmax(qmax, rows[i].qps);
    }
    fr.x0 = floor(fr.x0 * 10 - 1e-9) / 10;
    if (fr.x0 > 0.9)
        fr.x0 = 0.9;
    if (fr.x0 < 0)
        fr.x0 = 0;
    if (qmax <= 0) { /* nothing measured: an empty frame */
        qmin = 1;
        qmax = 10;
    }
    fr.ly0 = floor(log10(qmin));
    fr.ly1 = ceil(log10(qmax));
    if (fr.ly1 <= fr.ly0)
        fr.ly1 = fr.ly0 + 1;

    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H, W, H);
    /* Title. */
    fprintf(f,
            "<text x=\"%d\" y=\"24\" font-size=\"16\" "
            "font-weight=\"bold\">Recall / QPS: ",
            ML);
    xml_text(f, info->dataset);
    fprintf(f,
            "</text>\n<text x=\"%d\" y=\"42\" font-size=\"12\" "
            "fill=\"#444\">",
            ML);
    fprintf(f,
            "n=%zu, dim=%u, %s, M=%u, ef_construct=%u, %zu queries, one "
            "thread, median of %u passes</text>\n",
            info->n, info->dim, qvb_metric_name(info->metric), info->m,
            info->ef_construct, info->nq, info->reps);

    /* Grid and ticks: y decades (labelled) and 2..9 (faint). */
    double left = ML, right = W - MR, top = MT, bottom = H - MB;
    fputs("<g stroke-width=\"1\">\n", f);
    for (double d = fr.ly0; d <= fr.ly1 + 1e-9; d++) {
        double base = pow(10, d);
        for (int m = 1; m <= 9; m++) {
            double q = base * m;
            if (log10(q) > fr.ly1 + 1e-9)
                break;
            double y = py(&fr, q);
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                    "stroke=\"%s\"/>\n",
                    left, y, right, y, m == 1 ? "#bbb" : "#eee");
            if (m == 1)
                fprintf(f,
                        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
                        "text-anchor=\"end\" stroke=\"none\">%.0f</text>\n",
                        left - 6, y + 4, q);
        }
    }
    double step = fr.x1 - fr.x0 > 0.31 ? 0.1 : 0.05;
    for (double x = fr.x0; x <= fr.x1 + 1e-9; x += step) {
        double X = px(&fr, x);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#ddd\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
                "text-anchor=\"middle\" stroke=\"none\">%.2f</text>\n",
                X, top, X, bottom, X, bottom + 18, x);
    }
    fputs("</g>\n", f);
    /* Frame and axis titles. */
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"none\" stroke=\"#333\"/>\n",
            left, top, right - left, bottom - top);
    fprintf(f,
            "<text x=\"%.1f\" y=\"%d\" font-size=\"13\" "
            "text-anchor=\"middle\">recall@%u</text>\n",
            (left + right) / 2, H - 18, info->k);
    fprintf(f,
            "<text transform=\"translate(20,%.1f) rotate(-90)\" "
            "font-size=\"13\" text-anchor=\"middle\">queries per second "
            "(log scale)</text>\n",
            (top + bottom) / 2);
    /* The target recall. */
    if (info->target_recall > fr.x0 && info->target_recall < fr.x1) {
        double X = px(&fr, info->target_recall);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#777\" stroke-dasharray=\"5,4\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555\" "
                "text-anchor=\"end\">recall %.2f</text>\n",
                X, top, X, bottom, X - 4, top + 14, info->target_recall);
    }

    /* One polyline per engine, markers with ef labels, and the legend. */
    size_t shown = 0;
    for (size_t e = 0; e < n_eng; e++) {
        const qvb_engine_result *en = &eng[e];
        const char *colour = engine_colour(en->engine, e);
        size_t cnt = 0;
        for (size_t i = 0; i < n_rows; i++)
            cnt += !strcmp(rows[i].engine, en->engine) && usable(&rows[i]);
        if (cnt == 0)
            continue;
        fprintf(f,
                "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                "points=\"",
                colour);
        for (size_t i = 0; i < n_rows; i++) {
            const qvb_row *r = &rows[i];
            if (!strcmp(r->engine, en->engine) && usable(r))
                fprintf(f, "%.1f,%.1f ", px(&fr, r->recall), py(&fr, r->qps));
        }
        fputs("\"/>\n", f);
        for (size_t i = 0; i < n_rows; i++) {
            const qvb_row *r = &rows[i];
            if (strcmp(r->engine, en->engine) || !usable(r))
                continue;
            double X = px(&fr, r->recall), Y = py(&fr, r->qps);
            fprintf(f,
                    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\">"
                    "<title>",
                    X, Y, colour);
            xml_text(f, r->engine);
            fprintf(f,
                    " ef=%u: recall %.4f, %.0f QPS</title></circle>\n"
                    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                    "fill=\"%s\">%u</text>\n",
                    r->ef, r->recall, r->qps, X + 5, Y - 6, colour, r->ef);
        }
        double ly = top + 16 + 22.0 * (double)shown;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"%s\" stroke-width=\"3\"/>\n"
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\">",
                right + 16, ly, right + 44, ly, colour, right + 30, ly, colour,
                right + 52, ly + 4);
        xml_text(f, en->engine);
        fputs("</text>\n", f);
        shown++;
    }
    if (shown) {
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                "fill=\"#555\">labels: ef</text>\n",
                right + 16, top + 16 + 22.0 * (double)shown);
    }
    fputs("</svg>\n", f);
    return ferror(f) ? -1 : 0;
}
