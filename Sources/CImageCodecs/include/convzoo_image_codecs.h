// JPEG and PNG decoding for ConvZoo's Transfer target, matching Pillow's decoded pixels, and PNG
// encoding for the plots ConvZoo writes.
//
// libjpeg and libpng report fatal errors by longjmp. Swift frames cannot be jumped over, so every
// setjmp/longjmp stays inside these C functions and Swift only sees a status and a message.
#ifndef CONVZOO_IMAGE_CODECS_H
#define CONVZOO_IMAGE_CODECS_H

#include <stddef.h>

enum {
    CONVZOO_IMAGE_OK = 0,
    /// The data end before the image does.
    CONVZOO_IMAGE_TRUNCATED = 1,
    /// The library rejected the data (bad marker, bad CRC, bad compressed stream, ...).
    CONVZOO_IMAGE_CORRUPT = 2,
    /// A valid file of a kind not handled (e.g. a JPEG in an unusual colour space).
    CONVZOO_IMAGE_UNSUPPORTED = 3,
    /// More pixels than the caller allows (a decompression bomb guard).
    CONVZOO_IMAGE_TOO_LARGE = 4,
    CONVZOO_IMAGE_OUT_OF_MEMORY = 5,
};

/// A decoded 8-bit image, rows top to bottom, channels interleaved.
typedef struct {
    /// height * width * channels bytes from malloc; release with convzoo_image_release.
    unsigned char *pixels;
    int width;
    int height;
    /// 1 (grayscale) or 3 (RGB): alpha is dropped without compositing, as Pillow's convert('RGB').
    int channels;
    /// Why decoding failed, as the library put it.
    char message[200];
} convzoo_image;

/// Decodes a baseline or progressive JPEG with libjpeg's defaults (ISLOW IDCT, fancy upsampling),
/// which are Pillow's. Grayscale files give 1 channel, YCbCr and RGB files 3, CMYK and YCCK files
/// 3 by Pillow's CMYK -> RGB rule (Adobe-inverted data).
int convzoo_decode_jpeg(const unsigned char *data, size_t size, long long max_pixels, convzoo_image *out);

/// Decodes a PNG of any colour type and bit depth: palettes expanded to RGB, 1/2/4-bit gray scaled
/// to 8 bits, 16-bit samples reduced to their high byte (as Pillow does), alpha and tRNS dropped.
int convzoo_decode_png(const unsigned char *data, size_t size, long long max_pixels, convzoo_image *out);

/// Frees the pixels of a decoded image (safe on a failed or released image).
void convzoo_image_release(convzoo_image *image);

/// Encodes 8-bit pixels (rows top to bottom, 1 gray, 3 RGB or 4 RGBA interleaved channels) as a PNG
/// with libpng's simplified write API. On success *out_data holds *out_size bytes from malloc, to be
/// released with convzoo_encoded_release; on failure `message` says why.
int convzoo_encode_png(const unsigned char *pixels, int width, int height, int channels,
                       unsigned char **out_data, size_t *out_size, char *message, size_t message_size);

/// Frees the bytes convzoo_encode_png returned (safe on NULL).
void convzoo_encoded_release(unsigned char *data);

#endif
