"""HPACK conformance of crisp's front side: h2spec 2.6.0's "hpack" group,
one test per case (hpack/<section>/<n>: the docstring's first line).

Each case appends (or prepends) one representation a decoder must refuse to
an otherwise valid request header block; RFC 7541 makes every decoding error
a connection error of type COMPRESSION_ERROR (RFC 9113 §4.3). The
representations are built here bit by bit (h2lib's HPACK helpers), with the
same defect as h2spec's. As in test_h2spec_http2, the request is a gRPC one
to a method the runtime must never see.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from h2lib import (  # noqa: E402
    COMPRESSION_ERROR, HEADER_TABLE_SIZE, H2TestCase, bits_to_bytes, grpc_request_headers,
    headers_frame, hpack_int, hpack_string, huffman_bits, literal_field)

MALFORMED = "/crisp.test.Hpack/Malformed"
STATIC_TABLE_LEN = 61


def huffman_padded(data, pad_bit, extra_octets=0):
    """`data` Huffman-coded, padded to whole octets with `pad_bit` ("1" is
    the EOS prefix the RFC wants), then `extra_octets` more of padding."""
    bits = huffman_bits(data)
    bits += pad_bit * (-len(bits) % 8 + 8 * extra_octets)
    return bits_to_bytes(bits)


class HpackCase(H2TestCase):

    def refused(self, representation, prepend=False):
        """A request whose header block carries `representation` is a
        connection COMPRESSION_ERROR, and never reaches the runtime."""
        c = self.client()
        block = c.encode(grpc_request_headers(MALFORMED))
        block = representation + block if prepend else block + representation
        c.send(headers_frame(1, block, end_stream=True))
        c.expect_connection_error(COMPRESSION_ERROR)
        self.assert_crisp_serves()
        self.assertEqual(self.fake.calls(MALFORMED), [], "crisp forwarded the request")


class TestIndexAddressSpace(HpackCase):

    def test_hpack_2_3_3_1_indexed_field_invalid_index(self):
        """hpack/2.3.3/1: an indexed header field with an index past both tables."""
        # The dynamic table holds the few fields this connection's encoder added.
        self.refused(hpack_int(STATIC_TABLE_LEN + 9, 7, 0x80))

    def test_hpack_2_3_3_2_literal_field_invalid_name_index(self):
        """hpack/2.3.3/2: a literal header field whose name index is past both tables."""
        self.refused(hpack_int(STATIC_TABLE_LEN + 9, 6, 0x40) + hpack_string(b""))


class TestMaximumTableSize(HpackCase):

    def test_hpack_4_2_1_table_size_update_at_end(self):
        """hpack/4.2/1: a dynamic table size update at the end of a header block."""
        self.refused(hpack_int(1, 5, 0x20))


class TestStringLiteral(HpackCase):

    def test_hpack_5_2_1_huffman_padding_longer_than_7_bits(self):
        """hpack/5.2/1: a Huffman-coded string whose padding is longer than 7 bits."""
        # "test" codes to 20 bits: 4 bits of padding complete the octet, 8 more are too many.
        value = huffman_padded(b"test", "1", extra_octets=1)
        self.refused(literal_field(b"x-test", None, raw_value=hpack_string(None,
                                                                           raw_huffman=value),
                                   huffman=True))

    def test_hpack_5_2_2_huffman_padded_with_zeros(self):
        """hpack/5.2/2: a Huffman-coded string padded with zeros (not the EOS prefix)."""
        value = huffman_padded(b"test", "0")
        self.refused(literal_field(b"x-test", None, raw_value=hpack_string(None,
                                                                           raw_huffman=value),
                                   huffman=True))

    def test_hpack_5_2_3_huffman_with_eos(self):
        """hpack/5.2/3: a Huffman-coded string that contains the EOS symbol."""
        eos = "1" * 30
        bits = huffman_bits(b"te") + eos + huffman_bits(b"st")
        value = bits_to_bytes(bits + "1" * (-len(bits) % 8))
        self.refused(literal_field(b"x-test", None, raw_value=hpack_string(None,
                                                                           raw_huffman=value),
                                   huffman=True))


class TestIndexedRepresentation(HpackCase):

    def test_hpack_6_1_1_index_0(self):
        """hpack/6.1/1: an indexed header field with index 0."""
        self.refused(hpack_int(0, 7, 0x80))


class TestTableSizeUpdate(HpackCase):

    def test_hpack_6_3_1_table_size_update_over_the_limit(self):
        """hpack/6.3/1: a dynamic table size update above SETTINGS_HEADER_TABLE_SIZE."""
        c = self.client()
        limit = c.server_settings.get(HEADER_TABLE_SIZE, 4096)
        c.close()
        self.refused(hpack_int(limit + 1, 5, 0x20), prepend=True)


if __name__ == "__main__":
    unittest.main()
