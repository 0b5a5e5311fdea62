#include "convzoo_image_codecs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>

// One compression pass into a buffer of `capacity` bytes. libpng's simplified API catches its own
// longjmp and reports failure by returning 0, so no setjmp is needed here.
static int write_png(const unsigned char *pixels, int width, int height, int channels,
                     unsigned char *buffer, png_alloc_size_t *size, char *message, size_t message_size) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
    if (png_image_write_to_memory(&image, buffer, size, 0, pixels, 0, NULL)) return 1;
    snprintf(message, message_size, "%s", image.message);
    return 0;
}

int convzoo_encode_png(const unsigned char *pixels, int width, int height, int channels,
                       unsigned char **out_data, size_t *out_size, char *message, size_t message_size) {
    *out_data = NULL;
    *out_size = 0;
    if (width < 1 || height < 1 || (channels != 1 && channels != 3 && channels != 4)) {
        snprintf(message, message_size, "cannot encode %dx%d pixels of %d channels as PNG", width, height, channels);
        return CONVZOO_IMAGE_UNSUPPORTED;
    }
    // Plots are mostly flat colour and compress far below their raw size: guess small, and when the
    // guess is short libpng says how much it needs, so a second pass always fits.
    png_alloc_size_t capacity = (png_alloc_size_t)width * height * channels / 4 + 4096;
    for (int attempt = 0; attempt < 2; attempt++) {
        unsigned char *buffer = malloc(capacity);
        if (!buffer) {
            snprintf(message, message_size, "out of memory for %zu bytes of PNG", (size_t)capacity);
            return CONVZOO_IMAGE_OUT_OF_MEMORY;
        }
        png_alloc_size_t size = capacity;
        if (write_png(pixels, width, height, channels, buffer, &size, message, message_size)) {
            *out_data = buffer;
            *out_size = size;
            return CONVZOO_IMAGE_OK;
        }
        free(buffer);
        if (size <= capacity) return CONVZOO_IMAGE_CORRUPT;  // a real failure, not a short buffer
        capacity = size;
    }
    snprintf(message, message_size, "libpng needed more memory than it asked for");
    return CONVZOO_IMAGE_CORRUPT;
}

void convzoo_encoded_release(unsigned char *data) { free(data); }
