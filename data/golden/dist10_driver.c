/*
 * dist10_driver.c -- drives the step functions of psychoacoustic model 1
 * of the ISO MPEG-1 audio reference encoder "dist10" (lsf/encoder/tonal.c)
 * and its polyphase analysis filterbank (lsf/encoder/encode.c) on windows
 * chosen by the caller, and prints every intermediate result as text.
 *
 * This file contains no dist10 code: it only calls dist10's functions.
 * It is compiled and linked by build_dist10_golden.sh against a (patched)
 * copy of tonal.c, encode.c and common.c; see data/golden/README.md.
 *
 * Usage
 *   dist10_driver TABLES_DIR tables
 *       Print the tables as dist10 reads them: read_cbound/read_freq_band for
 *       layers 1, 2 and sampling-frequency indices 0, 1, 2; the analysis
 *       window (read_ana_window) and the scalefactor table multiple[].
 *   dist10_driver TABLES_DIR LAYER SFREQ FRAMES BITRATE NEAREST_MAP INPUT
 *       LAYER 1|2; SFREQ 0 (44.1 kHz) | 1 (48 kHz) | 2 (32 kHz); FRAMES F;
 *       BITRATE the value handed to threshold() (kbit/s per channel);
 *       NEAREST_MAP 1 replaces make_map's line->row map by the nearest grid
 *       row (switch S2), 0 keeps make_map's; INPUT raw int16 mono (native
 *       byte order).
 *
 * Output: one record per line, "<tag> <values...>", numbers printed with
 * 17 significant digits.  make_golden.py parses it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "common.h"
#include "encoder.h"

/* dist10 globals (tonal.c) */
extern int crit_band;
extern int *cbound;
extern int sub_size;
extern double multiple[64];

/* The tables live in a directory given on the command line.  common.c's own
   OpenTableFile is renamed away at compile time (it also lacks a return
   statement), so dist10's readers open their files through this one. */
static const char *tables_dir = "tables";

FILE *OpenTableFile(char *name)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", tables_dir, name);
    f = fopen(path, "r");
    if (f == NULL) fprintf(stderr, "dist10_driver: cannot open table %s\n", path);
    return f;
}

static void print_vec(const char *tag, const double *v, int n)
{
    int i;
    printf("%s %d", tag, n);
    for (i = 0; i < n; i++) printf(" %.17g", v[i]);
    printf("\n");
}

/* ------------------------------------------------------------------ tables */

static int dump_tables(void)
{
    int lay, freq, i;
    double win[HAN_SIZE];
    for (lay = 1; lay <= 2; lay++)
        for (freq = 0; freq <= 2; freq++) {
            g_thres *ltg = NULL;
            read_cbound(lay, freq);
            read_freq_band(&ltg, lay, freq);
            printf("table %d %d %d %d\n", lay, freq, sub_size, crit_band);
            printf("cbound %d", crit_band);
            for (i = 0; i < crit_band; i++) printf(" %d", cbound[i]);
            printf("\n");
            for (i = 1; i < sub_size; i++)
                printf("grid %d %d %.17g %.17g\n", i, ltg[i].line, ltg[i].bark, ltg[i].hear);
        }
    read_ana_window(win);
    print_vec("enwindow", win, HAN_SIZE);
    print_vec("multiple", multiple, 64);
    return 0;
}

/* ------------------------------------------------------------------ model */

static void print_list(const char *tag, mask *power, int head, int with_map, int limit)
{
    int k, n = 0;
    for (k = head; k != LAST && n <= limit; k = power[k].next) n++;
    if (n > limit) { fprintf(stderr, "dist10_driver: list %s does not end\n", tag); exit(2); }
    printf("%s %d", tag, n);
    for (k = head; k != LAST; k = power[k].next) {
        if (with_map) printf(" %d %.17g %d", k, power[k].x, power[k].map);
        else printf(" %d %.17g", k, power[k].x);
    }
    printf("\n");
}

/* S2: each line gets the row of the nearest grid line (ties: lower row);
   below the first grid line row 1, above the last the last row. */
static void nearest_map(mask *power, g_thres *ltg, int nlines)
{
    int k, r;
    for (k = 0; k < nlines; k++) {
        int best = 1;
        for (r = 2; r < sub_size; r++) {
            int d_best = abs(k - ltg[best].line), d = abs(k - ltg[r].line);
            if (d < d_best) best = r;      /* strict: a tie keeps the lower row */
        }
        power[k].map = best;
    }
}

int main(int argc, char **argv)
{
    int layer, sfreq, frames, bit_rate, s2, n_fft, hop, nb, nlines;
    int m, i, b, k, nblocks_total, nsamp;
    short *pcm;
    FILE *fp;
    long fsize;
    mask *power;
    g_thres *ltg = NULL;
    double *sample, *sb;  /* sb: subband samples, [block][32] */
    double z[HAN_SIZE];

    if (argc == 3 && strcmp(argv[2], "tables") == 0) {
        tables_dir = argv[1];
        return dump_tables();
    }
    if (argc != 8) {
        fprintf(stderr, "usage: %s TABLES_DIR tables | TABLES_DIR LAYER SFREQ FRAMES BITRATE NEAREST_MAP INPUT\n", argv[0]);
        return 1;
    }
    tables_dir = argv[1];
    layer = atoi(argv[2]);
    sfreq = atoi(argv[3]);
    frames = atoi(argv[4]);
    bit_rate = atoi(argv[5]);
    s2 = atoi(argv[6]);
    if ((layer != 1 && layer != 2) || sfreq < 0 || sfreq > 2 || frames < 1) {
        fprintf(stderr, "bad arguments\n");
        return 1;
    }
    n_fft = layer == 1 ? 512 : 1024;
    hop = layer == 1 ? 384 : 1152;
    nb = layer == 1 ? 12 : 36;
    nlines = n_fft / 2;

    fp = fopen(argv[7], "rb");
    if (!fp) { fprintf(stderr, "cannot open %s\n", argv[7]); return 1; }
    fseek(fp, 0, SEEK_END);
    fsize = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    nsamp = (int) (fsize / 2);
    pcm = (short *) malloc(sizeof(short) * (nsamp + 1));
    if ((long) fread(pcm, sizeof(short), nsamp, fp) != nsamp) { fprintf(stderr, "short read\n"); return 1; }
    fclose(fp);
    if ((frames - 1) * hop + n_fft > nsamp) { fprintf(stderr, "input too short for %d frames\n", frames); return 1; }

    /* tables and the line -> row map, as I_Psycho_One/II_Psycho_One set them up
       (MPEG-1 tables: sampling-frequency index without the LSF offset) */
    read_cbound(layer, sfreq);
    read_freq_band(&ltg, layer, sfreq);
    /* generous size: dist10 reads a few lines past N/2 in places */
    power = (mask *) calloc(2 * HAN_SIZE, sizeof(mask));
    sample = (double *) calloc(FFT_SIZE, sizeof(double));
    make_map(power, ltg);
    if (s2) nearest_map(power, ltg, nlines);

    printf("config %d %d %d %d %d %d %d %d\n", layer, sfreq, frames, bit_rate, s2, sub_size, crit_band, nsamp);
    printf("cbound %d", crit_band);
    for (i = 0; i < crit_band; i++) printf(" %d", cbound[i]);
    printf("\n");
    for (i = 1; i < sub_size; i++)
        printf("grid %d %d %.17g %.17g\n", i, ltg[i].line, ltg[i].bark, ltg[i].hear);
    printf("map %d", nlines);
    for (k = 0; k < nlines; k++) printf(" %d", power[k].map);
    printf("\n");

    /* polyphase analysis over the whole file from a zero state: block b
       consumes samples 32b..32b+31 (zeros past the end) */
    nblocks_total = 0;
    for (m = 0; m < frames; m++) {
        int b0 = (int) floor((m * hop + n_fft / 2 + 225 - 16 * (nb - 1)) / 32.0 + 0.5);
        if (b0 + nb > nblocks_total) nblocks_total = b0 + nb;
    }
    sb = (double *) calloc((size_t) nblocks_total * SBLIMIT, sizeof(double));
    for (b = 0; b < nblocks_total; b++) {
        short blk[32];
        short *p = blk;
        for (i = 0; i < 32; i++) {
            int t = 32 * b + i;
            blk[i] = t < nsamp ? pcm[t] : 0;
        }
        window_subband(&p, z, 0);
        filter_subband(z, &sb[b * SBLIMIT]);
    }

    for (m = 0; m < frames; m++) {
        int tone = LAST, noise = LAST;
        int start = m * hop;
        int b0 = (int) floor((m * hop + n_fft / 2 + 225 - 16 * (nb - 1)) / 32.0 + 0.5);
        double spike[SBLIMIT], ltmin[SBLIMIT], scale[SBLIMIT], lev[HAN_SIZE], thr[HAN_SIZE];
        static double sb_sample[1][3][SCALE_BLOCK][SBLIMIT];
        unsigned int scalar[1][3][SBLIMIT];
        int t, j, s;

        printf("frame %d %d %d\n", m, start, b0);

        /* scalefactors from blocks b0 .. b0+nb-1 */
        memset(sb_sample, 0, sizeof sb_sample);
        for (t = 0; t < nb / SCALE_BLOCK; t++)
            for (j = 0; j < SCALE_BLOCK; j++)
                for (s = 0; s < SBLIMIT; s++)
                    sb_sample[0][t][j][s] = sb[(b0 + t * SCALE_BLOCK + j) * SBLIMIT + s];
        printf("subband %d", nb * SBLIMIT);
        for (j = 0; j < nb; j++)
            for (s = 0; s < SBLIMIT; s++) printf(" %.17g", sb[(b0 + j) * SBLIMIT + s]);
        printf("\n");
        if (layer == 1) I_scale_factor_calc(sb_sample, scalar, 1);
        else II_scale_factor_calc(sb_sample, scalar, 1, SBLIMIT);
        printf("scf %d", (nb / SCALE_BLOCK) * SBLIMIT);
        for (t = 0; t < nb / SCALE_BLOCK; t++)
            for (s = 0; s < SBLIMIT; s++) printf(" %u", scalar[0][t][s]);
        printf("\n");
        for (s = 0; s < SBLIMIT; s++) {  /* largest scalefactor = smallest index */
            unsigned int mi = scalar[0][0][s];
            for (t = 1; t < nb / SCALE_BLOCK; t++) if (scalar[0][t][s] < mi) mi = scalar[0][t][s];
            scale[s] = multiple[mi];
        }
        print_vec("scale", scale, SBLIMIT);

        /* the FFT window: samples [start, start + N) */
        for (i = 0; i < n_fft; i++) sample[i] = (double) pcm[start + i] / SCALE;
        for (i = 0; i < nlines; i++) power[i].x = DBMIN;
        if (layer == 1) { I_hann_win(sample); I_f_f_t(sample, power); }
        else { II_hann_win(sample); II_f_f_t(sample, power); }
        for (k = 0; k < nlines; k++) lev[k] = power[k].x;
        print_vec("spectrum", lev, nlines);

        if (layer == 1) I_pick_max(power, spike); else II_pick_max(power, spike);
        print_vec("spike", spike, SBLIMIT);

        if (layer == 1) I_tonal_label(power, &tone); else II_tonal_label(power, &tone);
        print_list("tonal_labelled", power, tone, 0, nlines);
        {   /* lines whose type is TONE when noise_label starts (its collision test reads these) */
            int nt = 0;
            for (k = 0; k < nlines; k++) if (power[k].type == TONE) nt++;
            printf("tone_type %d", nt);
            for (k = 0; k < nlines; k++) if (power[k].type == TONE) printf(" %d", k);
            printf("\n");
        }

        noise_label(power, &noise, ltg);
        print_list("noise_labelled", power, noise, 0, nlines);
        print_list("tonal_after_noise_label", power, tone, 0, nlines);

        subsampling(power, ltg, &tone, &noise);
        print_list("tonal", power, tone, 1, nlines);
        print_list("nontonal", power, noise, 1, nlines);

        threshold(power, ltg, &tone, &noise, bit_rate);
        for (k = 1; k < sub_size; k++) thr[k - 1] = ltg[k].x;
        print_vec("global", thr, sub_size - 1);

        if (layer == 1) I_minimum_mask(ltg, ltmin); else II_minimum_mask(ltg, ltmin, SBLIMIT);
        print_vec("ltmin", ltmin, SBLIMIT);

        if (layer == 1) I_smr(ltmin, spike, scale); else II_smr(ltmin, spike, scale, SBLIMIT);
        print_vec("smr", ltmin, SBLIMIT);
    }
    return 0;
}
