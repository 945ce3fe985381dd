/* Standard base64, with a strict decoder: how a recording stores protobuf
 * bytes in JSON (base64.h). */
#include "base/base64.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t crisp_base64_encoded_len(size_t len)
{
        return (len + 2) / 3 * 4;
}

void crisp_base64_encode(const uint8_t *data, size_t len, char *out)
{
        size_t i = 0;
        for (; i + 3 <= len; i += 3) {
                uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
                *out++ = alphabet[v >> 18 & 63];
                *out++ = alphabet[v >> 12 & 63];
                *out++ = alphabet[v >> 6 & 63];
                *out++ = alphabet[v & 63];
        }
        if (len - i == 1) {
                uint32_t v = (uint32_t)data[i] << 16;
                *out++ = alphabet[v >> 18 & 63];
                *out++ = alphabet[v >> 12 & 63];
                *out++ = '=';
                *out++ = '=';
        } else if (len - i == 2) {
                uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;
                *out++ = alphabet[v >> 18 & 63];
                *out++ = alphabet[v >> 12 & 63];
                *out++ = alphabet[v >> 6 & 63];
                *out++ = '=';
        }
}

/* The 6-bit value of one base64 character, or -1. */
static int sextet(unsigned char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

static int bad_char(const char *text, size_t at, crisp_error **err)
{
        unsigned char c = (unsigned char)text[at];
        if (c >= 0x20 && c < 0x7f)
                return crisp_error_set(err, EINVAL,
                                       "invalid base64: character '%c' at offset %zu is not in "
                                       "the base64 alphabet",
                                       c, at);
        return crisp_error_set(err, EINVAL,
                               "invalid base64: byte 0x%02x at offset %zu is not in the base64 "
                               "alphabet",
                               c, at);
}

int crisp_base64_decode(const char *text, size_t len, uint8_t **out, size_t *out_len,
                        crisp_error **err)
{
        if (len % 4 != 0)
                return crisp_error_set(err, EINVAL,
                                       "invalid base64: length %zu is not a multiple of 4 "
                                       "(cut short, or missing '=' padding)",
                                       len);
        size_t pad = 0;
        if (len > 0 && text[len - 1] == '=')
                pad = (len > 1 && text[len - 2] == '=') ? 2 : 1;

        size_t n = len / 4 * 3 - pad;
        uint8_t *buf = malloc(n ? n : 1);
        if (buf == NULL)
                return crisp_error_set(err, ENOMEM, "out of memory decoding %zu bytes of base64",
                                       len);

        size_t o = 0;
        for (size_t i = 0; i < len; i += 4) {
                bool last = i + 4 == len;
                int v[4];
                for (size_t k = 0; k < 4; k++) {
                        /* '=' only as the final one or two characters. */
                        if (last && text[i + k] == '=' && k >= 4 - pad) {
                                v[k] = 0;
                                continue;
                        }
                        v[k] = sextet((unsigned char)text[i + k]);
                        if (v[k] < 0) {
                                free(buf);
                                if (text[i + k] == '=')
                                        return crisp_error_set(err, EINVAL,
                                                               "invalid base64: '=' at offset "
                                                               "%zu before the end",
                                                               i + k);
                                return bad_char(text, i + k, err);
                        }
                }
                uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                             (uint32_t)v[3];
                /* Canonical form only: bits the padding hides must be zero, so
                 * each byte string has exactly one encoding. */
                if (last && ((pad == 1 && (w & 0xff) != 0) || (pad == 2 && (w & 0xffff) != 0))) {
                        free(buf);
                        return crisp_error_set(err, EINVAL,
                                               "invalid base64: the last group (offset %zu) has "
                                               "non-zero padding bits",
                                               i);
                }
                buf[o++] = (uint8_t)(w >> 16);
                if (!last || pad < 2)
                        buf[o++] = (uint8_t)(w >> 8);
                if (!last || pad < 1)
                        buf[o++] = (uint8_t)w;
        }
        *out = buf;
        *out_len = n;
        return 0;
}
