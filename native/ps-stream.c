/*
 * ps-stream: streaming speech recognition for voxledger on Debian's libpocketsphinx (0.8 /
 * 5prealpha API: cmd_ln_parse_r, ps_init, ps_process_raw, ps_get_in_speech, ps_get_hyp).
 *
 * One process per recognition stream. stdin: 8 kHz 16-bit little-endian mono PCM (telephone
 * audio). The program upsamples it to the model's 16 kHz with a windowed-sinc interpolator and adds
 * a faint noise floor to the empty 4-8 kHz band (without it the 16 kHz en-us model sees a dead upper
 * band and word accuracy collapses; README, Speech). stdout: one JSON object per line:
 *   {"type":"ready"}
 *   {"type":"started","ms":<audio ms>}
 *   {"type":"partial","ms":..,"text":".."}
 *   {"type":"final","ms":..,"text":"..","confidence":<0..1>}
 *   {"type":"progress","ms":..}          every second of audio (the caller's watchdog)
 * EOF on stdin ends a pending utterance with its final and exits 0. Errors: a line
 * {"type":"error","message":".."} on stdout and exit status 2.
 *
 * Own options (before the pocketsphinx ones): -noise <rms> (default 16, 0 = off),
 * -partial_ms <ms> between partials (default 300, 0 = none), -input_rate 16000 to feed 16 kHz
 * audio as is (measurements), -grammar_bytes <n>: stdin starts with n bytes of JSGF grammar text
 * (UTF-8), then the audio; no grammar file is written anywhere. Every other argument goes to
 * pocketsphinx (-hmm, -dict, -lm, -jsgf, -kws, -vad_threshold, -vad_postspeech, ...).
 */
#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>

#define TAPS 16 /* taps per side of the half-band interpolator */
#define IN_CHUNK 1600 /* 200 ms of 8 kHz input per read at most */

static double kernel[2 * TAPS];
static short hist[2 * TAPS];
static unsigned int rng = 2463534242u;

static void json_string(const char *s) {
  putchar('"');
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') { putchar('\\'); putchar(c); }
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

static void fail(const char *message) {
  printf("{\"type\":\"error\",\"message\":");
  json_string(message);
  printf("}\n");
  fflush(stdout);
  exit(2);
}

static void init_kernel(void) {
  /* odd output samples: sinc at half-sample offsets, Blackman window */
  for (int k = 0; k < 2 * TAPS; k++) {
    double x = (k - TAPS) + 0.5;
    double w = 0.42 + 0.5 * cos(M_PI * x / (TAPS + 0.5)) + 0.08 * cos(2 * M_PI * x / (TAPS + 0.5));
    kernel[k] = sin(M_PI * x) / (M_PI * x) * w;
  }
}

static double noise_sample(void) {
  rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
  return ((double)(rng & 0xffff) / 65535.0 - 0.5) * 3.4641; /* unit variance, uniform */
}

static short clip(double v) { return v > 32767 ? 32767 : v < -32768 ? -32768 : (short)lrint(v); }

/* in: n samples at 8 kHz; out: 2n samples at 16 kHz, delayed by TAPS input samples. */
static void upsample(const short *in, int n, short *out, double noise_rms) {
  static double prev_noise = 0;
  static long parity = 0;
  for (int i = 0; i < n; i++) {
    memmove(hist, hist + 1, sizeof(short) * (2 * TAPS - 1));
    hist[2 * TAPS - 1] = in[i];
    double odd = 0;
    for (int k = 0; k < 2 * TAPS; k++) odd += kernel[k] * hist[k];
    double even = hist[TAPS - 1];
    for (int j = 0; j < 2; j++) {
      double v = j == 0 ? even : odd;
      if (noise_rms > 0) {
        /* first difference of white noise times (-1)^n: energy sits in the upper band */
        double w = noise_sample();
        double hp = (w + prev_noise) * 0.5 * ((parity++ & 1) ? -1.0 : 1.0);
        prev_noise = w;
        v += hp * noise_rms * 1.41;
      }
      out[2 * i + j] = clip(v);
    }
  }
}

static void emit_final(ps_decoder_t *ps, long ms) {
  int32 score = 0;
  const char *hyp = ps_get_hyp(ps, &score);
  double conf = logmath_exp(ps_get_logmath(ps), ps_get_prob(ps));
  if (!(conf >= 0 && conf <= 1)) conf = 0;
  printf("{\"type\":\"final\",\"ms\":%ld,\"text\":", ms);
  json_string(hyp ? hyp : "");
  printf(",\"confidence\":%.3f}\n", conf);
  fflush(stdout);
}

int main(int argc, char **argv) {
  double noise_rms = 16;
  long partial_ms = 300;
  long input_rate = 8000;
  long grammar_bytes = 0;
  int first = 1;
  while (first + 1 < argc) {
    if (strcmp(argv[first], "-noise") == 0) noise_rms = atof(argv[first + 1]);
    else if (strcmp(argv[first], "-partial_ms") == 0) partial_ms = atol(argv[first + 1]);
    else if (strcmp(argv[first], "-input_rate") == 0) input_rate = atol(argv[first + 1]);
    else if (strcmp(argv[first], "-grammar_bytes") == 0) grammar_bytes = atol(argv[first + 1]);
    else break;
    first += 2;
  }
  argv[first - 1] = argv[0];
  err_set_logfp(NULL);
  cmd_ln_t *config = cmd_ln_parse_r(NULL, ps_args(), argc - first + 1, argv + first - 1, TRUE);
  if (config == NULL) fail("bad pocketsphinx arguments");
  ps_decoder_t *ps = ps_init(config);
  if (ps == NULL) fail("pocketsphinx could not load its model, dictionary or grammar");
  init_kernel();
  if (grammar_bytes > 0) {
    if (grammar_bytes > 1 << 20) fail("grammar too large");
    char *grammar = calloc((size_t)grammar_bytes + 1, 1);
    long have = 0;
    while (have < grammar_bytes) {
      ssize_t got = read(0, grammar + have, (size_t)(grammar_bytes - have));
      if (got <= 0) fail("stdin ended inside the grammar");
      have += got;
    }
    if (ps_set_jsgf_string(ps, "grammar", grammar) < 0) fail("bad JSGF grammar (syntax, or a word missing from the dictionary)");
    if (ps_set_search(ps, "grammar") < 0) fail("could not select the grammar");
    free(grammar);
  }

  short in[IN_CHUNK];
  short up[2 * IN_CHUNK];
  long samples = 0; /* input samples (8 kHz) consumed */
  long last_partial = 0;
  long last_progress = 0;
  char *last_hyp = NULL;
  int in_utt = 0;
  if (ps_start_utt(ps) < 0) fail("could not start an utterance");
  printf("{\"type\":\"ready\"}\n");
  fflush(stdout);
  for (;;) {
    ssize_t got = read(0, in, sizeof in);
    if (got <= 0) break;
    int n = (int)(got / 2); /* a torn odd byte is dropped; the writer sends whole samples */
    if (input_rate == 16000) {
      ps_process_raw(ps, in, (size_t)n, FALSE, FALSE);
      n /= 2;
    } else {
      upsample(in, n, up, noise_rms);
      ps_process_raw(ps, up, (size_t)(2 * n), FALSE, FALSE);
    }
    samples += n;
    long ms = samples / 8;
    uint8 speech = ps_get_in_speech(ps);
    if (ms - last_progress >= 1000) {
      last_progress = ms;
      printf("{\"type\":\"progress\",\"ms\":%ld}\n", ms);
      fflush(stdout);
    }
    if (speech && !in_utt) {
      in_utt = 1;
      last_partial = ms;
      printf("{\"type\":\"started\",\"ms\":%ld}\n", ms);
      fflush(stdout);
    } else if (speech && partial_ms > 0 && ms - last_partial >= partial_ms) {
      last_partial = ms;
      const char *hyp = ps_get_hyp(ps, NULL);
      if (hyp && *hyp && (!last_hyp || strcmp(hyp, last_hyp) != 0)) {
        free(last_hyp);
        last_hyp = strdup(hyp);
        printf("{\"type\":\"partial\",\"ms\":%ld,\"text\":", ms);
        json_string(hyp);
        printf("}\n");
        fflush(stdout);
      }
    } else if (!speech && in_utt) {
      ps_end_utt(ps);
      emit_final(ps, ms);
      free(last_hyp);
      last_hyp = NULL;
      in_utt = 0;
      if (ps_start_utt(ps) < 0) fail("could not restart an utterance");
    }
  }
  ps_end_utt(ps);
  if (in_utt) emit_final(ps, samples / 8);
  ps_free(ps);
  cmd_ln_free_r(config);
  return 0;
}
