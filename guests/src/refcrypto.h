/* Userspace references for the AF_ALG cells (kentry_cells.h): SHA-256 (FIPS 180-4) and
 * AES-128-CBC encryption (FIPS-197, SP800-38A), plain C so the guest needs no tool. The
 * tables were generated from their definitions (K, H: the fractional parts of the cube and
 * square roots of the first primes; the S-box: GF(2^8) inverse and affine map), and
 * ref_selftest() checks both against known answers before any cell trusts them:
 * SHA-256("abc") (FIPS 180-4) and the RFC 3602 AES-128-CBC vector the kernel's own
 * crypto/testmgr.h carries (aes_cbc_tv_template[0]).
 */
#ifndef REFCRYPTO_H
#define REFCRYPTO_H
#include <stdint.h>
#include <string.h>

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++)
		w[i] = w[i - 16] + (ROR32(w[i - 15], 7) ^ ROR32(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 7] +
		       (ROR32(w[i - 2], 17) ^ ROR32(w[i - 2], 19) ^ (w[i - 2] >> 10));
	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		t1 = hh + (ROR32(e, 6) ^ ROR32(e, 11) ^ ROR32(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
		t2 = (ROR32(a, 2) ^ ROR32(a, 13) ^ ROR32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

static void sha256(const void *data, size_t len, unsigned char out[32])
{
	uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	const unsigned char *p = data;
	unsigned char tail[128] = {0};
	size_t full = len / 64 * 64, rest = len - full, tl = rest < 56 ? 64 : 128;
	uint64_t bits = (uint64_t)len * 8;

	for (size_t i = 0; i < full; i += 64)
		sha256_block(h, p + i);
	memcpy(tail, p + full, rest);
	tail[rest] = 0x80;
	for (int i = 0; i < 8; i++)
		tail[tl - 1 - i] = (unsigned char)(bits >> (8 * i));
	for (size_t i = 0; i < tl; i += 64)
		sha256_block(h, tail + i);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (unsigned char)(h[i] >> (24 - 8 * j));
}

static const unsigned char aes_sbox[256] = {
	0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5, 0x30, 0x01, 0x67, 0x2b, 0xfe, 0xd7, 0xab, 0x76,
	0xca, 0x82, 0xc9, 0x7d, 0xfa, 0x59, 0x47, 0xf0, 0xad, 0xd4, 0xa2, 0xaf, 0x9c, 0xa4, 0x72, 0xc0,
	0xb7, 0xfd, 0x93, 0x26, 0x36, 0x3f, 0xf7, 0xcc, 0x34, 0xa5, 0xe5, 0xf1, 0x71, 0xd8, 0x31, 0x15,
	0x04, 0xc7, 0x23, 0xc3, 0x18, 0x96, 0x05, 0x9a, 0x07, 0x12, 0x80, 0xe2, 0xeb, 0x27, 0xb2, 0x75,
	0x09, 0x83, 0x2c, 0x1a, 0x1b, 0x6e, 0x5a, 0xa0, 0x52, 0x3b, 0xd6, 0xb3, 0x29, 0xe3, 0x2f, 0x84,
	0x53, 0xd1, 0x00, 0xed, 0x20, 0xfc, 0xb1, 0x5b, 0x6a, 0xcb, 0xbe, 0x39, 0x4a, 0x4c, 0x58, 0xcf,
	0xd0, 0xef, 0xaa, 0xfb, 0x43, 0x4d, 0x33, 0x85, 0x45, 0xf9, 0x02, 0x7f, 0x50, 0x3c, 0x9f, 0xa8,
	0x51, 0xa3, 0x40, 0x8f, 0x92, 0x9d, 0x38, 0xf5, 0xbc, 0xb6, 0xda, 0x21, 0x10, 0xff, 0xf3, 0xd2,
	0xcd, 0x0c, 0x13, 0xec, 0x5f, 0x97, 0x44, 0x17, 0xc4, 0xa7, 0x7e, 0x3d, 0x64, 0x5d, 0x19, 0x73,
	0x60, 0x81, 0x4f, 0xdc, 0x22, 0x2a, 0x90, 0x88, 0x46, 0xee, 0xb8, 0x14, 0xde, 0x5e, 0x0b, 0xdb,
	0xe0, 0x32, 0x3a, 0x0a, 0x49, 0x06, 0x24, 0x5c, 0xc2, 0xd3, 0xac, 0x62, 0x91, 0x95, 0xe4, 0x79,
	0xe7, 0xc8, 0x37, 0x6d, 0x8d, 0xd5, 0x4e, 0xa9, 0x6c, 0x56, 0xf4, 0xea, 0x65, 0x7a, 0xae, 0x08,
	0xba, 0x78, 0x25, 0x2e, 0x1c, 0xa6, 0xb4, 0xc6, 0xe8, 0xdd, 0x74, 0x1f, 0x4b, 0xbd, 0x8b, 0x8a,
	0x70, 0x3e, 0xb5, 0x66, 0x48, 0x03, 0xf6, 0x0e, 0x61, 0x35, 0x57, 0xb9, 0x86, 0xc1, 0x1d, 0x9e,
	0xe1, 0xf8, 0x98, 0x11, 0x69, 0xd9, 0x8e, 0x94, 0x9b, 0x1e, 0x87, 0xe9, 0xce, 0x55, 0x28, 0xdf,
	0x8c, 0xa1, 0x89, 0x0d, 0xbf, 0xe6, 0x42, 0x68, 0x41, 0x99, 0x2d, 0x0f, 0xb0, 0x54, 0xbb, 0x16,
};

static unsigned char aes_xtime(unsigned char x) { return (unsigned char)(x << 1 ^ (x & 0x80 ? 0x1b : 0)); }

/* AES-128 key expansion: 11 round keys of 16 bytes */
static void aes128_expand(const unsigned char key[16], unsigned char rk[176])
{
	unsigned char rcon = 1;

	memcpy(rk, key, 16);
	for (int i = 16; i < 176; i += 4) {
		unsigned char t[4] = {rk[i - 4], rk[i - 3], rk[i - 2], rk[i - 1]};

		if (i % 16 == 0) {
			unsigned char t0 = t[0];

			t[0] = aes_sbox[t[1]] ^ rcon, t[1] = aes_sbox[t[2]], t[2] = aes_sbox[t[3]], t[3] = aes_sbox[t0];
			rcon = aes_xtime(rcon);
		}
		for (int j = 0; j < 4; j++)
			rk[i + j] = rk[i - 16 + j] ^ t[j];
	}
}

static void aes128_block(const unsigned char rk[176], unsigned char s[16])
{
	unsigned char t[16];

	for (int i = 0; i < 16; i++)
		s[i] ^= rk[i];
	for (int r = 1; r <= 10; r++) {
		for (int i = 0; i < 16; i++)  /* SubBytes and ShiftRows (column-major state) */
			t[i] = aes_sbox[s[(i + 4 * (i % 4)) % 16]];
		if (r < 10)
			for (int c = 0; c < 4; c++) {  /* MixColumns */
				unsigned char *col = t + 4 * c, a0 = col[0], a1 = col[1], a2 = col[2], a3 = col[3];
				unsigned char all = a0 ^ a1 ^ a2 ^ a3;

				col[0] ^= all ^ aes_xtime(a0 ^ a1);
				col[1] ^= all ^ aes_xtime(a1 ^ a2);
				col[2] ^= all ^ aes_xtime(a2 ^ a3);
				col[3] ^= all ^ aes_xtime(a3 ^ a0);
			}
		for (int i = 0; i < 16; i++)
			s[i] = t[i] ^ rk[16 * r + i];
	}
}

/* cbc(aes) encryption of len bytes (a multiple of 16) from in to out */
static void aes128_cbc_encrypt(const unsigned char key[16], const unsigned char iv[16], const void *in, void *out,
			       size_t len)
{
	unsigned char rk[176], chain[16];
	const unsigned char *src = in;
	unsigned char *dst = out;

	aes128_expand(key, rk);
	memcpy(chain, iv, 16);
	for (size_t off = 0; off < len; off += 16) {
		for (int i = 0; i < 16; i++)
			chain[i] ^= src[off + i];
		aes128_block(rk, chain);
		memcpy(dst + off, chain, 16);
	}
}

/* 0 when both references give the known answers, else which one is wrong */
static const char *ref_selftest(void)
{
	static const unsigned char abc[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	/* crypto/testmgr.h aes_cbc_tv_template[0] (RFC 3602 case 1) */
	static const unsigned char key[16] = "\x06\xa9\x21\x40\x36\xb8\xa1\x5b\x51\x2e\x03\xd5\x34\x12\x00\x06";
	static const unsigned char iv[16] = "\x3d\xaf\xba\x42\x9d\x9e\xb4\x30\xb4\x22\xda\x80\x2c\x9f\xac\x41";
	static const unsigned char ct[16] = "\xe3\x53\x77\x9c\x10\x79\xae\xb8\x27\x08\x94\x2d\xbe\x77\x18\x1a";
	unsigned char d[32], c[16];

	sha256("abc", 3, d);
	if (memcmp(d, abc, 32))
		return "sha256(\"abc\") is not the FIPS 180-4 answer";
	aes128_cbc_encrypt(key, iv, "Single block msg", c, 16);
	if (memcmp(c, ct, 16))
		return "cbc(aes) of RFC 3602 case 1 is not its ciphertext";
	return NULL;
}
#endif
