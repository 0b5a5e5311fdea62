#include "convzoo_image_codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>

struct png_source {
    const unsigned char *data;
    size_t size;
    size_t offset;
    int ran_out;
    jmp_buf jump;
    char *message;
};

static void png_fail(png_structp png, png_const_charp text) {
    struct png_source *source = png_get_error_ptr(png);
    snprintf(source->message, sizeof(((convzoo_image *)0)->message), "%s", text);
    longjmp(source->jump, 1);
}

static void png_warn(png_structp png, png_const_charp text) { (void)png; (void)text; }

static void png_read_bytes(png_structp png, png_bytep target, size_t count) {
    struct png_source *source = png_get_io_ptr(png);
    if (source->size - source->offset < count) {
        source->ran_out = 1;
        png_error(png, "truncated PNG data");
    }
    memcpy(target, source->data + source->offset, count);
    source->offset += count;
}

int convzoo_decode_png(const unsigned char *data, size_t size, long long max_pixels, convzoo_image *out) {
    struct png_source source = {data, size, 0, 0};
    png_structp png = NULL;
    png_infop info = NULL;
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;

    memset(out, 0, sizeof *out);
    source.message = out->message;
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, png_fail, png_warn);
    if (png) info = png_create_info_struct(png);
    if (!png || !info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        snprintf(out->message, sizeof out->message, "out of memory for libpng");
        return CONVZOO_IMAGE_OUT_OF_MEMORY;
    }
    if (setjmp(source.jump)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(rows);
        return source.ran_out ? CONVZOO_IMAGE_TRUNCATED : CONVZOO_IMAGE_CORRUPT;
    }
    png_set_read_fn(png, &source, png_read_bytes);
    // Damage libpng can step over (a bad ancillary chunk, an odd ICC profile) is not fatal in Pillow either.
    png_set_benign_errors(png, 1);
    png_read_info(png, info);

    png_uint_32 width, height;
    int bit_depth, color_type;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, NULL, NULL, NULL);
    if ((long long)width * height > max_pixels) {
        snprintf(out->message, sizeof out->message, "%ux%u pixels exceed the limit of %lld", width, height, max_pixels);
        png_destroy_read_struct(&png, &info, NULL);
        return CONVZOO_IMAGE_TOO_LARGE;
    }
    // Pillow keeps the high byte of 16-bit RGB(A) samples; gamma (gAMA) is ignored, as Pillow ignores it.
    if (bit_depth == 16) png_set_strip_16(png);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if ((channels != 1 && channels != 3) || row_bytes != (size_t)width * channels) {
        snprintf(out->message, sizeof out->message, "unsupported PNG layout (colour type %d, depth %d)", color_type, bit_depth);
        png_destroy_read_struct(&png, &info, NULL);
        return CONVZOO_IMAGE_UNSUPPORTED;
    }
    pixels = malloc(row_bytes * height);
    rows = malloc(sizeof(png_bytep) * height);
    if (!pixels || !rows) {
        snprintf(out->message, sizeof out->message, "out of memory for %ux%u pixels", width, height);
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(rows);
        return CONVZOO_IMAGE_OUT_OF_MEMORY;
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + y * row_bytes;
    png_read_image(png, rows);
    // The chunks after the image data (IEND, text) are not read: Pillow stops at the image data too.
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);

    out->pixels = pixels;
    out->width = (int)width;
    out->height = (int)height;
    out->channels = channels;
    return CONVZOO_IMAGE_OK;
}
