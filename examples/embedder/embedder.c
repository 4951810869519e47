/* embedder: the inframind sample model, a deterministic 256-dimensional text embedding.
 *
 * Algorithm (reference.py implements the same, byte for byte):
 *   1. normalise the input bytes: ASCII A-Z lowercased; ASCII letters and digits kept; every other ASCII
 *      byte (space, punctuation, controls) is a separator, and a run of separators becomes one space;
 *      bytes >= 0x80 (UTF-8 of non-ASCII text) are kept as they are;
 *   2. pad with one space on each side: " " + normalised + " " (a run ending in a separator already ends
 *      in a space, so never two);
 *   3. every 3-byte window (character trigram over bytes) is hashed with FNV-1a 32-bit;
 *      bucket = hash % 256, sign = bit 8 of the hash (1 -> +1, 0 -> -1); counts summed per bucket;
 *   4. L2-normalised (all-zero counts stay all zeros); printed as a JSON array of 256 numbers, "%.6g".
 *
 * Modes:
 *   embedder stdio        reads all of stdin (at most 1 MiB), prints the JSON array and a newline
 *   embedder serve PORT   HTTP/1.1 on 127.0.0.1:PORT: GET /health, POST /inference {"input": "..."}
 *
 * Build: gcc -static -O2 -Wall -Wextra -Werror -o embedder embedder.c -lm
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define DIM 256
#define MAX_TEXT (1u << 20)           /* decoded input text, both modes */
#define MAX_HEAD (16u << 10)          /* request line + headers */
/* A JSON writer that escapes every non-ASCII or '<' character as \uXXXX (System.Text.Json's default) can
 * make 1 MiB of text 6 MiB of JSON; the body limit allows that much. */
#define MAX_BODY ((6u << 20) + 64)
#define MAX_CONNS 6                   /* worst case 6 x (head + body) stays well under a 64 MiB limit */
#define IDLE_SECONDS 60               /* a keep-alive connection with nothing pending */
#define STALL_SECONDS 15              /* a request that started arriving but stopped */
#define SEND_TIMEOUT_SECONDS 10
#define JSON_MAX_DEPTH 64

/* ------------------------------------------------------------------ the embedding */

static int is_token_byte(unsigned char c) {
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
}

/* Writes " " + normalised text + " " into out (capacity len + 2); returns its length. */
static size_t normalise(const unsigned char *text, size_t len, unsigned char *out) {
    size_t n = 0;
    int separated = 1;
    out[n++] = ' ';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = text[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        if (!is_token_byte(c)) {
            if (!separated) out[n++] = ' ';
            separated = 1;
            continue;
        }
        out[n++] = c;
        separated = 0;
    }
    if (!separated) out[n++] = ' ';
    return n;
}

static uint32_t fnv1a(const unsigned char *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

/* scratch: at least len + 2 bytes. */
static void embed(const unsigned char *text, size_t len, unsigned char *scratch, double out[DIM]) {
    int32_t counts[DIM] = {0};
    size_t n = normalise(text, len, scratch);
    for (size_t i = 0; i + 3 <= n; i++) {
        uint32_t h = fnv1a(scratch + i, 3);
        counts[h % DIM] += (h >> 8) & 1 ? 1 : -1;
    }
    int64_t squares = 0; /* at most 2^20 trigrams: the sum is exact in 64 bits and in a double */
    for (int i = 0; i < DIM; i++) squares += (int64_t)counts[i] * counts[i];
    double norm = sqrt((double)squares);
    for (int i = 0; i < DIM; i++) out[i] = squares == 0 ? 0.0 : counts[i] / norm;
}

/* "[v0,v1,...]" into out; returns its length. 256 x "%.6g" is at most 256 x 13 bytes. */
#define VECTOR_JSON_MAX (DIM * 14 + 4)
static size_t vector_json(const double v[DIM], char *out) {
    size_t n = 0;
    out[n++] = '[';
    for (int i = 0; i < DIM; i++) {
        if (i) out[n++] = ',';
        n += (size_t)snprintf(out + n, VECTOR_JSON_MAX - n, "%.6g", v[i]);
    }
    out[n++] = ']';
    out[n] = 0;
    return n;
}

/* ------------------------------------------------------------------ small helpers */

static void on_signal(int sig) { _exit(128 + sig); }

/* As PID 1 in a container the default SIGTERM action does nothing: exit on it explicitly. */
static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = fd == 1 ? write(fd, p, n) : send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int usage(void) {
    fputs("usage: embedder stdio        (text on stdin, at most 1 MiB; JSON array of 256 floats on stdout)\n"
          "       embedder serve PORT   (HTTP on 127.0.0.1:PORT: GET /health, POST /inference {\"input\": \"text\"})\n",
          stderr);
    return 64;
}

/* ------------------------------------------------------------------ stdio mode */

static int cmd_stdio(void) {
    unsigned char *text = malloc(MAX_TEXT + 1), *scratch = malloc(MAX_TEXT + 2);
    if (!text || !scratch) { fputs("embedder: out of memory\n", stderr); return 1; }
    size_t len = 0;
    for (;;) {
        ssize_t r = read(0, text + len, MAX_TEXT + 1 - len); /* one byte over the limit tells "too long" */
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { fprintf(stderr, "embedder: reading stdin: %s\n", strerror(errno)); return 1; }
        if (r == 0) break;
        len += (size_t)r;
        if (len > MAX_TEXT) {
            fprintf(stderr, "embedder: the input is over %u bytes; send at most 1 MiB of text\n", MAX_TEXT);
            return 3;
        }
    }
    double v[DIM];
    embed(text, len, scratch, v);
    char json[VECTOR_JSON_MAX + 1];
    size_t n = vector_json(v, json);
    json[n++] = '\n';
    if (write_all(1, json, n)) { fprintf(stderr, "embedder: writing stdout: %s\n", strerror(errno)); return 1; }
    return 0;
}

/* ------------------------------------------------------------------ JSON request body */

/* Why a body is refused; each names the problem for the client. */
static const char *json_error;

static void skip_ws(const unsigned char *p, size_t n, size_t *i) {
    while (*i < n && (p[*i] == ' ' || p[*i] == '\t' || p[*i] == '\n' || p[*i] == '\r')) (*i)++;
}

static int hex4(const unsigned char *p, size_t n, size_t i, unsigned *out) {
    if (i + 4 > n) return -1;
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = p[i + k];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates, <= U+10FFFF), or 0. */
static size_t utf8_sequence(const unsigned char *p, size_t n) {
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 0;
    if (len > n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if (p[k] < 0x80 || p[k] > 0xBF) return 0;
    return len;
}

/* Decodes the JSON string starting after its opening quote at *i. Writes up to cap bytes to out (out may
 * be NULL to only validate) and the full decoded length to *outlen. 0 on success, -1 with json_error. */
static int json_string(const unsigned char *p, size_t n, size_t *i, unsigned char *out, size_t cap, size_t *outlen) {
    size_t o = 0;
#define EMIT(b) do { if (out && o < cap) out[o] = (unsigned char)(b); o++; } while (0)
    while (*i < n) {
        unsigned char c = p[*i];
        if (c == '"') { (*i)++; *outlen = o; return 0; }
        if (c < 0x20) { json_error = "a JSON string holds a raw control character; escape it (\\n, \\u0000)"; return -1; }
        if (c != '\\') {
            size_t len = utf8_sequence(p + *i, n - *i);
            if (len == 0) { json_error = "the body is not valid UTF-8"; return -1; }
            for (size_t k = 0; k < len; k++) EMIT(p[*i + k]);
            *i += len;
            continue;
        }
        if (*i + 1 >= n) break;
        unsigned char e = p[*i + 1];
        *i += 2;
        switch (e) {
            case '"': EMIT('"'); break;
            case '\\': EMIT('\\'); break;
            case '/': EMIT('/'); break;
            case 'b': EMIT('\b'); break;
            case 'f': EMIT('\f'); break;
            case 'n': EMIT('\n'); break;
            case 'r': EMIT('\r'); break;
            case 't': EMIT('\t'); break;
            case 'u': {
                unsigned cp, low;
                if (hex4(p, n, *i, &cp)) { json_error = "a \\u escape needs four hex digits"; return -1; }
                *i += 4;
                if (cp >= 0xDC00 && cp <= 0xDFFF) { json_error = "a \\u escape is a lone low surrogate"; return -1; }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (*i + 6 > n || p[*i] != '\\' || p[*i + 1] != 'u' || hex4(p, n, *i + 2, &low) || low < 0xDC00 || low > 0xDFFF) {
                        json_error = "a \\u escape is a high surrogate without its low half";
                        return -1;
                    }
                    *i += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                }
                if (cp < 0x80) EMIT(cp);
                else if (cp < 0x800) { EMIT(0xC0 | (cp >> 6)); EMIT(0x80 | (cp & 0x3F)); }
                else if (cp < 0x10000) { EMIT(0xE0 | (cp >> 12)); EMIT(0x80 | ((cp >> 6) & 0x3F)); EMIT(0x80 | (cp & 0x3F)); }
                else { EMIT(0xF0 | (cp >> 18)); EMIT(0x80 | ((cp >> 12) & 0x3F)); EMIT(0x80 | ((cp >> 6) & 0x3F)); EMIT(0x80 | (cp & 0x3F)); }
                break;
            }
            default: json_error = "a JSON string has an unknown escape; use \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX"; return -1;
        }
    }
#undef EMIT
    json_error = "a JSON string is not closed";
    return -1;
}

static int digits(const unsigned char *p, size_t n, size_t *i) {
    size_t start = *i;
    while (*i < n && p[*i] >= '0' && p[*i] <= '9') (*i)++;
    return *i > start ? 0 : -1;
}

static int json_number(const unsigned char *p, size_t n, size_t *i) {
    if (*i < n && p[*i] == '-') (*i)++;
    if (*i < n && p[*i] == '0') (*i)++;
    else if (digits(p, n, i)) return -1;
    if (*i < n && p[*i] == '.') { (*i)++; if (digits(p, n, i)) return -1; }
    if (*i < n && (p[*i] == 'e' || p[*i] == 'E')) {
        (*i)++;
        if (*i < n && (p[*i] == '+' || p[*i] == '-')) (*i)++;
        if (digits(p, n, i)) return -1;
    }
    return 0;
}

/* Skips (and validates) one JSON value at *i. */
static int json_skip(const unsigned char *p, size_t n, size_t *i, int depth) {
    size_t unused;
    skip_ws(p, n, i);
    if (*i >= n) { json_error = "the JSON body ends where a value should be"; return -1; }
    if (depth > JSON_MAX_DEPTH) { json_error = "the JSON body is nested over 64 levels"; return -1; }
    unsigned char c = p[*i];
    if (c == '"') { (*i)++; return json_string(p, n, i, NULL, 0, &unused); }
    if (c == '{' || c == '[') {
        unsigned char close = c == '{' ? '}' : ']';
        (*i)++;
        skip_ws(p, n, i);
        if (*i < n && p[*i] == close) { (*i)++; return 0; }
        for (;;) {
            if (c == '{') {
                skip_ws(p, n, i);
                if (*i >= n || p[*i] != '"') { json_error = "a JSON object key must be a string"; return -1; }
                (*i)++;
                if (json_string(p, n, i, NULL, 0, &unused)) return -1;
                skip_ws(p, n, i);
                if (*i >= n || p[*i] != ':') { json_error = "a JSON object key must be followed by ':'"; return -1; }
                (*i)++;
            }
            if (json_skip(p, n, i, depth + 1)) return -1;
            skip_ws(p, n, i);
            if (*i < n && p[*i] == ',') { (*i)++; continue; }
            if (*i < n && p[*i] == close) { (*i)++; return 0; }
            json_error = "a JSON object or array is missing a ',' or its closing bracket";
            return -1;
        }
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t len = strlen(words[k]);
        if (n - *i >= len && memcmp(p + *i, words[k], len) == 0) { *i += len; return 0; }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        if (json_number(p, n, i) == 0) return 0;
        json_error = "a JSON number is malformed";
        return -1;
    }
    json_error = "the body is not JSON";
    return -1;
}

/* Parses {"input": "<text>", ...} and decodes the text into out (capacity MAX_TEXT).
 * Returns 0, or an HTTP status (400, 413) with json_error set. */
static int parse_inference(const unsigned char *p, size_t n, unsigned char *out, size_t *outlen) {
    size_t i = 0, len;
    int found = 0;
    skip_ws(p, n, &i);
    if (i >= n || p[i] != '{') { json_error = "the body must be a JSON object: {\"input\": \"text\"}"; return 400; }
    i++;
    skip_ws(p, n, &i);
    if (i < n && p[i] == '}') i++;
    else {
        for (;;) {
            unsigned char key[8];
            skip_ws(p, n, &i);
            if (i >= n || p[i] != '"') { json_error = "a JSON object key must be a string"; return 400; }
            i++;
            if (json_string(p, n, &i, key, sizeof key, &len)) return 400;
            skip_ws(p, n, &i);
            if (i >= n || p[i] != ':') { json_error = "a JSON object key must be followed by ':'"; return 400; }
            i++;
            if (len == 5 && memcmp(key, "input", 5) == 0) {
                if (found) { json_error = "\"input\" appears twice"; return 400; }
                found = 1;
                skip_ws(p, n, &i);
                if (i >= n || p[i] != '"') { json_error = "\"input\" must be a JSON string (this model embeds text)"; return 400; }
                i++;
                if (json_string(p, n, &i, out, MAX_TEXT, outlen)) return 400;
                if (*outlen > MAX_TEXT) { json_error = "\"input\" is over 1 MiB of text"; return 413; }
            } else if (json_skip(p, n, &i, 1)) {
                return 400;
            }
            skip_ws(p, n, &i);
            if (i < n && p[i] == ',') { i++; continue; }
            if (i < n && p[i] == '}') { i++; break; }
            json_error = "the JSON object is missing a ',' or its closing '}'";
            return 400;
        }
    }
    skip_ws(p, n, &i);
    if (i != n) { json_error = "there is data after the JSON object"; return 400; }
    if (!found) { json_error = "the body has no \"input\" member: send {\"input\": \"text\"}"; return 400; }
    return 0;
}

/* ------------------------------------------------------------------ HTTP */

struct conn {
    int fd;
    unsigned char *buf;
    size_t len, cap;
    time_t last;           /* last byte received or answer sent */
    int continue_sent;     /* "100 Continue" already sent for the pending request */
};

static unsigned char *text_buf, *scratch_buf;

static const char *reason(int status) {
    switch (status) {
        case 100: return "Continue";
        case 200: return "OK";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 411: return "Length Required";
        case 413: return "Content Too Large";
        case 431: return "Request Header Fields Too Large";
        case 503: return "Service Unavailable";
        default: return "Error";
    }
}

/* Sends one response; returns -1 when the connection is gone. */
static int respond(int fd, int status, const char *type, const char *body, size_t len, int keep, const char *extra, int head_only) {
    char head[512];
    int h = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
                     status, reason(status), type, len, keep ? "" : "Connection: close\r\n", extra ? extra : "");
    if (head_only) len = 0;
    /* Head and body in one segment where they fit: one send, not two, per answer. */
    struct iovec iov[2] = {{.iov_base = head, .iov_len = (size_t)h}, {.iov_base = (void *)body, .iov_len = len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    ssize_t sent;
    do sent = sendmsg(fd, &msg, MSG_NOSIGNAL); while (sent < 0 && errno == EINTR);
    if (sent < 0) return -1;
    if ((size_t)sent < (size_t)h)
        return write_all(fd, head + sent, (size_t)h - (size_t)sent) || write_all(fd, body, len) ? -1 : 0;
    size_t done = (size_t)sent - (size_t)h;
    return write_all(fd, body + done, len - done) ? -1 : 0;
}

/* {"error":"..."}: the message JSON-escaped (it quotes "input" and names \\u escapes). */
static int respond_error(int fd, int status, const char *message, int keep) {
    char body[512];
    size_t n = 0;
    memcpy(body, "{\"error\":\"", 10);
    n = 10;
    for (const char *m = message; *m && n < sizeof body - 4; m++) {
        if (*m == '"' || *m == '\\') body[n++] = '\\';
        body[n++] = *m;
    }
    body[n++] = '"';
    body[n++] = '}';
    return respond(fd, status, "application/json", body, n, keep, NULL, 0);
}

static int header_is(const unsigned char *name, size_t len, const char *want) {
    return strlen(want) == len && strncasecmp((const char *)name, want, len) == 0;
}

/* Does the comma-separated header value hold token (case-insensitive)? */
static int has_token(const unsigned char *v, size_t len, const char *token) {
    size_t t = strlen(token), i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t start = i;
        while (i < len && v[i] != ',') i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) end--;
        if (end - start == t && strncasecmp((const char *)v + start, token, t) == 0) return 1;
    }
    return 0;
}

enum { KEEP = 0, NEED_MORE = 1, CLOSE = 2 };

/* Handles the request at the start of c->buf if it is complete. */
static int handle_request(struct conn *c, size_t *consumed) {
    unsigned char *p = c->buf;
    size_t n = c->len, end = 0;
    for (size_t i = 3; i < n && i < MAX_HEAD; i++)
        if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r') { end = i + 1; break; }
    if (!end) {
        if (n >= MAX_HEAD) { respond_error(c->fd, 431, "the request head is over 16 KiB", 0); return CLOSE; }
        return NEED_MORE;
    }

    /* Request line: METHOD SP TARGET SP HTTP/1.x CRLF */
    size_t line = 0;
    while (p[line] != '\r') line++;
    unsigned char *sp1 = memchr(p, ' ', line);
    unsigned char *sp2 = sp1 ? memchr(sp1 + 1, ' ', line - (size_t)(sp1 + 1 - p)) : NULL;
    if (!sp1 || !sp2 || sp1 == p || sp2 == sp1 + 1 || (size_t)(p + line - (sp2 + 1)) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0
        || (sp2[8] != '0' && sp2[8] != '1')) {
        respond_error(c->fd, 400, "the request line must be METHOD /path HTTP/1.1", 0);
        return CLOSE;
    }
    size_t method_len = (size_t)(sp1 - p);
    const unsigned char *target = sp1 + 1;
    size_t target_len = (size_t)(sp2 - target);
    const unsigned char *query = memchr(target, '?', target_len);
    if (query) target_len = (size_t)(query - target);
    int http11 = sp2[8] == '1';
    int keep = http11;

    /* Headers: name ":" OWS value OWS CRLF; no obsolete line folding. */
    long long length = -1;
    int expect_continue = 0;
    size_t i = line + 2;
    while (i < end - 2) {
        size_t eol = i;
        while (eol < end && !(p[eol] == '\r' && p[eol + 1] == '\n')) {
            if (p[eol] == '\n' || p[eol] == '\r' || p[eol] == 0) { respond_error(c->fd, 400, "a header line holds a bare CR, LF or NUL", 0); return CLOSE; }
            eol++;
        }
        unsigned char *colon = memchr(p + i, ':', eol - i);
        if (!colon || colon == p + i || p[i] == ' ' || p[i] == '\t' || colon[-1] == ' ' || colon[-1] == '\t') {
            respond_error(c->fd, 400, "a header line must be Name: value", 0);
            return CLOSE;
        }
        const unsigned char *name = p + i, *value = colon + 1;
        size_t name_len = (size_t)(colon - name);
        while (value < p + eol && (*value == ' ' || *value == '\t')) value++;
        size_t value_len = (size_t)(p + eol - value);
        while (value_len && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t')) value_len--;

        if (header_is(name, name_len, "content-length")) {
            long long v = 0;
            if (value_len == 0 || value_len > 12) { respond_error(c->fd, 400, "Content-Length must be a decimal number", 0); return CLOSE; }
            for (size_t k = 0; k < value_len; k++) {
                if (value[k] < '0' || value[k] > '9') { respond_error(c->fd, 400, "Content-Length must be a decimal number", 0); return CLOSE; }
                v = v * 10 + (value[k] - '0');
            }
            if (length >= 0 && length != v) { respond_error(c->fd, 400, "two different Content-Length headers", 0); return CLOSE; }
            length = v;
        } else if (header_is(name, name_len, "transfer-encoding")) {
            respond_error(c->fd, 411, "chunked bodies are not supported; send Content-Length", 0);
            return CLOSE;
        } else if (header_is(name, name_len, "connection")) {
            if (has_token(value, value_len, "close")) keep = 0;
            else if (has_token(value, value_len, "keep-alive")) keep = 1;
        } else if (header_is(name, name_len, "expect")) {
            expect_continue = has_token(value, value_len, "100-continue");
        }
        i = eol + 2;
    }
    if (length < 0) length = 0;
    if ((unsigned long long)length > MAX_BODY) { respond_error(c->fd, 413, "the body is over 6 MiB", 0); return CLOSE; }
    if (n - end < (size_t)length) {
        if (expect_continue && http11 && !c->continue_sent) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            if (write_all(c->fd, cont, sizeof cont - 1)) return CLOSE;
            c->continue_sent = 1;
        }
        return NEED_MORE;
    }
    *consumed = end + (size_t)length;
    c->continue_sent = 0;
    const unsigned char *body = p + end;

    int is_get = method_len == 3 && memcmp(p, "GET", 3) == 0;
    int is_head = method_len == 4 && memcmp(p, "HEAD", 4) == 0;
    int is_post = method_len == 4 && memcmp(p, "POST", 4) == 0;
    int status;
    if (target_len == 7 && memcmp(target, "/health", 7) == 0) {
        status = is_get || is_head ? respond(c->fd, 200, "text/plain", "ok\n", 3, keep, NULL, is_head)
                                   : respond(c->fd, 405, "text/plain", "use GET /health\n", 16, keep, "Allow: GET, HEAD\r\n", 0);
    } else if (target_len == 10 && memcmp(target, "/inference", 10) == 0) {
        if (!is_post) {
            status = respond(c->fd, 405, "text/plain", "use POST /inference\n", 20, keep, "Allow: POST\r\n", 0);
        } else {
            size_t text_len = 0;
            int refused = parse_inference(body, (size_t)length, text_buf, &text_len);
            if (refused) {
                status = respond_error(c->fd, refused, json_error, keep);
            } else {
                double v[DIM];
                static char answer[VECTOR_JSON_MAX + 32];
                embed(text_buf, text_len, scratch_buf, v);
                size_t a = (size_t)snprintf(answer, sizeof answer, "{\"output\":");
                a += vector_json(v, answer + a);
                answer[a++] = '}';
                status = respond(c->fd, 200, "application/json", answer, a, keep, NULL, 0);
            }
        }
    } else {
        status = respond(c->fd, 404, "text/plain", "not found: use GET /health or POST /inference\n", 46, keep, NULL, is_head);
    }
    if (status) return CLOSE;
    return keep ? KEEP : CLOSE;
}

static void drop(struct conn *c) {
    close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static int cmd_serve(const char *port_text) {
    char *endp;
    long port = strtol(port_text, &endp, 10);
    if (*port_text == 0 || *endp || port < 1 || port > 65535) return usage();
    text_buf = malloc(MAX_TEXT);
    scratch_buf = malloc(MAX_TEXT + 2);
    if (!text_buf || !scratch_buf) { fputs("embedder: out of memory\n", stderr); return 1; }

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 64)) {
        fprintf(stderr, "embedder: cannot listen on 127.0.0.1:%ld: %s\n", port, strerror(errno));
        return 1;
    }
    fprintf(stderr, "embedder: serving on 127.0.0.1:%ld\n", port);

    struct conn conns[MAX_CONNS];
    for (int k = 0; k < MAX_CONNS; k++) { memset(&conns[k], 0, sizeof conns[k]); conns[k].fd = -1; }
    for (;;) {
        struct pollfd fds[MAX_CONNS + 1];
        int slot[MAX_CONNS + 1], nfds = 0;
        fds[nfds].fd = lfd; fds[nfds].events = POLLIN; fds[nfds].revents = 0; slot[nfds++] = -1;
        for (int k = 0; k < MAX_CONNS; k++)
            if (conns[k].fd >= 0) { fds[nfds].fd = conns[k].fd; fds[nfds].events = POLLIN; fds[nfds].revents = 0; slot[nfds++] = k; }
        int ready = poll(fds, (nfds_t)nfds, 1000);
        if (ready < 0 && errno != EINTR) { fprintf(stderr, "embedder: poll: %s\n", strerror(errno)); return 1; }
        time_t now = time(NULL);

        for (int f = 1; ready > 0 && f < nfds; f++) {
            if (!fds[f].revents) continue;
            struct conn *c = &conns[slot[f]];
            if (c->cap - c->len < 4096) {
                size_t want = c->cap ? c->cap * 2 : 8192;
                if (want > MAX_HEAD + MAX_BODY + 4096) want = MAX_HEAD + MAX_BODY + 4096;
                unsigned char *grown = want > c->cap ? realloc(c->buf, want) : NULL;
                if (!grown) { respond_error(c->fd, 413, "the request is too large", 0); drop(c); continue; }
                c->buf = grown;
                c->cap = want;
            }
            ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) { drop(c); continue; }
            c->len += (size_t)r;
            c->last = now;
            /* Pipelined requests are answered in order. */
            for (;;) {
                size_t consumed = 0;
                int state = handle_request(c, &consumed);
                if (state == NEED_MORE) break;
                if (state == CLOSE) { drop(c); break; }
                memmove(c->buf, c->buf + consumed, c->len - consumed);
                c->len -= consumed;
                c->last = time(NULL);
            }
            /* A connection idle between requests gives back what a large body made it hold. */
            if (c->fd >= 0 && c->len == 0 && c->cap > 65536) { free(c->buf); c->buf = NULL; c->cap = 0; }
        }

        if (fds[0].revents & POLLIN) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                struct timeval tv = {.tv_sec = SEND_TIMEOUT_SECONDS};
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                int k = 0;
                while (k < MAX_CONNS && conns[k].fd >= 0) k++;
                if (k == MAX_CONNS) {
                    respond_error(fd, 503, "too many open connections; retry", 0);
                    close(fd);
                } else {
                    conns[k].fd = fd;
                    conns[k].last = now;
                }
            }
        }

        /* Idle keep-alive connections and stalled requests are closed: a single thread must not wait on them. */
        for (int k = 0; k < MAX_CONNS; k++) {
            struct conn *c = &conns[k];
            if (c->fd < 0) continue;
            if (c->len > 0 && now - c->last > STALL_SECONDS) { respond_error(c->fd, 408, "the request stopped arriving", 0); drop(c); }
            else if (c->len == 0 && now - c->last > IDLE_SECONDS) drop(c);
        }
    }
}

int main(int argc, char **argv) {
    install_signals();
    if (argc == 2 && strcmp(argv[1], "stdio") == 0) return cmd_stdio();
    if (argc == 3 && strcmp(argv[1], "serve") == 0) return cmd_serve(argv[2]);
    return usage();
}
