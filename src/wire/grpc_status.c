/* grpc-status and grpc-message (grpc_status.h). */
#include "wire/grpc_status.h"

#include <stdbool.h>

static bool plain(unsigned char c)
{
        return c >= ' ' && c <= '~' && c != '%';
}

size_t crisp_grpc_message_encode(const char *msg, char *out, size_t size)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t n = 0;
        if (size == 0)
                return 0;
        for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
                size_t need = plain(*p) ? 1 : 3;
                if (n + need >= size)
                        break;
                if (need == 1) {
                        out[n++] = (char)*p;
                } else {
                        out[n++] = '%';
                        out[n++] = hex[*p >> 4];
                        out[n++] = hex[*p & 15];
                }
        }
        out[n] = '\0';
        return n;
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

size_t crisp_grpc_message_decode(const char *value, size_t len, char *out, size_t size)
{
        size_t n = 0;
        if (size == 0)
                return 0;
        for (size_t i = 0; i < len && n + 1 < size; i++) {
                int hi, lo;
                if (value[i] == '%' && i + 2 < len && (hi = hexval(value[i + 1])) >= 0 &&
                    (lo = hexval(value[i + 2])) >= 0) {
                        out[n++] = (char)(hi << 4 | lo);
                        i += 2;
                } else {
                        out[n++] = value[i];
                }
        }
        out[n] = '\0';
        return n;
}

int crisp_grpc_status_parse(const char *value, size_t len)
{
        if (len == 0 || len > 2)
                return -1;
        int code = 0;
        for (size_t i = 0; i < len; i++) {
                if (value[i] < '0' || value[i] > '9')
                        return -1;
                code = code * 10 + (value[i] - '0');
        }
        return code;
}
