/* Times TwoLAME's psychoacoustic model 1 on a mono 16-bit PCM file, frame by frame (Layer II: 1152 samples,
 * 1024-point FFT), one thread. Built by benchmarks/bench_masking.py --twolame-src DIR against the library's own
 * sources in DIR/libtwolame (not part of this project; TwoLAME is LGPL).
 *
 *   driver FILE.raw RATE REPEATS
 *
 * prints one JSON line: frames, and the best-of-REPEATS CPU seconds of
 *   psycho1:      twolame_psycho_1 alone, per frame (its scalefactor input from a previous pass);
 *   with_filterbank: the polyphase filterbank (36 x 32 subband samples), the scalefactors, then model 1,
 * the encoder's own sequence of calls for each frame.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "bitbuffer.h"
#include "encode.h"
#include "psycho_1.h"
#include "subband.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);  /* CPU time: the same clock as the Python side */
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s FILE.raw RATE REPEATS\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    long n = bytes / 2;
    short *pcm = malloc(n * sizeof(short));
    if (fread(pcm, sizeof(short), n, f) != (size_t) n) {
        fprintf(stderr, "short read\n");
        return 2;
    }
    fclose(f);
    int rate = atoi(argv[2]), repeats = atoi(argv[3]);
    long frames = n / TWOLAME_SAMPLES_PER_FRAME;

    twolame_options *opts = twolame_init();
    twolame_set_verbosity(opts, 0);
    twolame_set_num_channels(opts, 1);
    twolame_set_mode(opts, TWOLAME_MONO);
    twolame_set_in_samplerate(opts, rate);
    twolame_set_out_samplerate(opts, rate);
    twolame_set_bitrate(opts, 96);
    twolame_set_psymodel(opts, 1);
    if (twolame_init_params(opts) != 0) {
        fprintf(stderr, "twolame_init_params failed\n");
        return 2;
    }
    double checksum = 0.0, best_p = 1e30, best_fb = 1e30;
    for (int r = 0; r < repeats; r++) {
        double t0 = now();
        for (long fr = 0; fr < frames; fr++) {
            memcpy(opts->buffer[0], pcm + fr * TWOLAME_SAMPLES_PER_FRAME, sizeof(short) * TWOLAME_SAMPLES_PER_FRAME);
            for (int gr = 0; gr < 3; gr++)
                for (int bl = 0; bl < 12; bl++)
                    twolame_window_filter_subband(&opts->smem, &opts->buffer[0][gr * 12 * 32 + 32 * bl], 0,
                                                  &(*opts->sb_sample)[0][gr][bl][0]);
            twolame_scalefactor_calc(*opts->sb_sample, opts->scalar, 1, opts->sblimit);
            twolame_find_sf_max(opts, opts->scalar, opts->max_sc);
            twolame_psycho_1(opts, opts->buffer, opts->max_sc, opts->smr);
            checksum += opts->smr[0][3];
        }
        double t1 = now();
        for (long fr = 0; fr < frames; fr++) {
            memcpy(opts->buffer[0], pcm + fr * TWOLAME_SAMPLES_PER_FRAME, sizeof(short) * TWOLAME_SAMPLES_PER_FRAME);
            twolame_psycho_1(opts, opts->buffer, opts->max_sc, opts->smr);
            checksum += opts->smr[0][3];
        }
        double t2 = now();
        if (t1 - t0 < best_fb)
            best_fb = t1 - t0;
        if (t2 - t1 < best_p)
            best_p = t2 - t1;
    }
    printf("{\"frames\": %ld, \"psycho1\": %.6f, \"with_filterbank\": %.6f, \"checksum\": %.3f}\n", frames, best_p,
           best_fb, checksum);
    twolame_close(&opts);
    free(pcm);
    return 0;
}
