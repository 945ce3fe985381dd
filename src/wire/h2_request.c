/* HTTP/2 request messaging rules (h2_request.h). */
#include "wire/h2_request.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* Character classes, looked up per byte (a request has a dozen fields, and
 * the kubelet sends a few calls a second: cheap, but on every call). */
enum { TOKEN = 1, LOWER_TOKEN = 2 };
static const uint8_t class_of[256] = {
#define T(c) [c] = TOKEN | LOWER_TOKEN
    T('!'), T('#'), T('$'), T('%'), T('&'), T('\''), T('*'), T('+'), T('-'), T('.'), T('^'),
    T('_'), T('`'), T('|'), T('~'), T('0'), T('1'),  T('2'), T('3'), T('4'), T('5'), T('6'),
    T('7'), T('8'), T('9'), T('a'), T('b'), T('c'),  T('d'), T('e'), T('f'), T('g'), T('h'),
    T('i'), T('j'), T('k'), T('l'), T('m'), T('n'),  T('o'), T('p'), T('q'), T('r'), T('s'),
    T('t'), T('u'), T('v'), T('w'), T('x'), T('y'),  T('z'),
#undef T
#define U(c) [c] = TOKEN
    U('A'), U('B'), U('C'), U('D'), U('E'), U('F'),  U('G'), U('H'), U('I'), U('J'), U('K'),
    U('L'), U('M'), U('N'), U('O'), U('P'), U('Q'),  U('R'), U('S'), U('T'), U('U'), U('V'),
    U('W'), U('X'), U('Y'), U('Z'),
#undef U
};

/* RFC 9110 §5.6.2 token; field names must also be lower case (RFC 9113
 * §8.2.1). */
static bool valid_token(const uint8_t *p, size_t n, bool lower_case)
{
        uint8_t want = lower_case ? LOWER_TOKEN : TOKEN;
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(class_of[p[i]] & want))
                        return false;
        return true;
}

/* RFC 9113 §8.2.1: no NUL, CR or LF, and no space or tab at either end. */
static bool valid_value(const uint8_t *p, size_t n)
{
        if (n > 0 && (p[0] == ' ' || p[0] == '\t' || p[n - 1] == ' ' || p[n - 1] == '\t'))
                return false;
        /* memchr looks at many bytes an instruction. */
        return memchr(p, '\0', n) == NULL && memchr(p, '\r', n) == NULL &&
               memchr(p, '\n', n) == NULL;
}

static bool is(const struct crisp_h2_field *f, const char *name)
{
        size_t n = strlen(name); /* a constant: the compiler counts it */
        return f->namelen == n && memcmp(f->name, name, n) == 0;
}

static bool value_is(const struct crisp_h2_field *f, const char *value)
{
        size_t n = strlen(value);
        return f->valuelen == n && memcmp(f->value, value, n) == 0;
}

/* RFC 9113 §8.2.2: fields that belong to a connection, not a message. */
static bool connection_specific(const struct crisp_h2_field *f)
{
        switch (f->namelen) {
        case 2:
                return is(f, "te") && !value_is(f, "trailers");
        case 7:
                return is(f, "upgrade");
        case 10:
                return is(f, "connection") || is(f, "keep-alive");
        case 16:
                return is(f, "proxy-connection");
        case 17:
                return is(f, "transfer-encoding");
        default:
                return false;
        }
}

static int fail(const char **why, const char *rule)
{
        *why = rule;
        return -EPROTO;
}

/* The rules every field follows, in a header block or in trailers. */
static int check_regular(const struct crisp_h2_field *f, const char **why)
{
        if (!valid_token(f->name, f->namelen, true))
                return fail(why, "a field name that is not a lower-case token");
        if (!valid_value(f->value, f->valuelen))
                return fail(why, "a field value with NUL, CR, LF or surrounding white space");
        if (connection_specific(f))
                return fail(why, "a connection-specific field (or te other than trailers)");
        return 0;
}

static int parse_length(const struct crisp_h2_field *f, int64_t *out)
{
        if (f->valuelen == 0 || f->valuelen > 18)
                return -EPROTO;
        int64_t v = 0;
        for (size_t i = 0; i < f->valuelen; i++) {
                if (f->value[i] < '0' || f->value[i] > '9')
                        return -EPROTO;
                v = v * 10 + (f->value[i] - '0');
        }
        *out = v;
        return 0;
}

int crisp_h2_check_request(const struct crisp_h2_field *f, size_t n, int64_t *content_length,
                           const char **why)
{
        enum { METHOD = 1, SCHEME = 2, PATH = 4, AUTHORITY = 8 };
        unsigned seen = 0;
        bool regular = false;
        *content_length = -1;
        for (size_t i = 0; i < n; i++) {
                if (f[i].namelen > 0 && f[i].name[0] == ':') {
                        unsigned bit = is(&f[i], ":method")      ? METHOD
                                       : is(&f[i], ":scheme")    ? SCHEME
                                       : is(&f[i], ":path")      ? PATH
                                       : is(&f[i], ":authority") ? AUTHORITY
                                                                 : 0;
                        if (bit == 0)
                                return fail(why, "a pseudo-header field a request has not");
                        if (regular)
                                return fail(why, "a pseudo-header field after a regular one");
                        if (seen & bit)
                                return fail(why, "a pseudo-header field twice");
                        seen |= bit;
                        /* The authority may be anything a field value may be:
                         * clients put a unix socket's path there. */
                        if (!valid_value(f[i].value, f[i].valuelen))
                                return fail(why, "a pseudo-header value with NUL, CR, LF or "
                                                 "surrounding white space");
                        if (bit == METHOD && !valid_token(f[i].value, f[i].valuelen, false))
                                return fail(why, "a :method that is not a token");
                        if (bit == PATH && f[i].valuelen == 0)
                                return fail(why, "an empty :path");
                        continue;
                }
                regular = true;
                int r = check_regular(&f[i], why);
                if (r < 0)
                        return r;
                if (is(&f[i], "content-length")) {
                        int64_t v;
                        if (parse_length(&f[i], &v) < 0 ||
                            (*content_length >= 0 && *content_length != v))
                                return fail(why, "a content-length that is not one number");
                        *content_length = v;
                }
        }
        if ((seen & (METHOD | SCHEME | PATH)) != (METHOD | SCHEME | PATH))
                return fail(why, "a request without :method, :scheme or :path");
        return 0;
}

int crisp_h2_check_trailers(const struct crisp_h2_field *f, size_t n, const char **why)
{
        for (size_t i = 0; i < n; i++) {
                if (f[i].namelen > 0 && f[i].name[0] == ':')
                        return fail(why, "a pseudo-header field in trailers");
                int r = check_regular(&f[i], why);
                if (r < 0)
                        return r;
        }
        return 0;
}
