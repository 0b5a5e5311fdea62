#include "convzoo_image_codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

struct error_manager {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int hit_end_of_data;
};

static void jpeg_fail(j_common_ptr cinfo) {
    struct error_manager *err = (struct error_manager *)cinfo->err;
    longjmp(err->jump, 1);
}

// libjpeg pads a truncated stream with gray and only warns; Pillow refuses such a file
// ("image file is truncated"), so the warning is remembered and turned into an error. Other
// warnings concern data libjpeg recovers from, which Pillow accepts silently too.
static void jpeg_message(j_common_ptr cinfo, int level) {
    struct error_manager *err = (struct error_manager *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) err->hit_end_of_data = 1;
}

static void jpeg_silent(j_common_ptr cinfo) { (void)cinfo; }

// Pillow reads CMYK JPEGs as Adobe-inverted ("CMYK;I") and converts with
// R = (255 - K) - C * (255 - K) / 255 (its MULDIV255 rounding).
static unsigned char cmyk_channel(int inverted_c, int inverted_k) {
    int c = 255 - inverted_c, nk = inverted_k;  // nk = 255 - K, and K = 255 - inverted_k
    int tmp = c * nk + 128;
    int v = nk - (((tmp >> 8) + tmp) >> 8);
    return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
}

int convzoo_decode_jpeg(const unsigned char *data, size_t size, long long max_pixels, convzoo_image *out) {
    struct jpeg_decompress_struct cinfo;
    struct error_manager err;
    unsigned char *volatile pixels = NULL;
    unsigned char *volatile row = NULL;
    volatile int status = CONVZOO_IMAGE_OK;

    memset(out, 0, sizeof *out);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_fail;
    err.pub.emit_message = jpeg_message;
    err.pub.output_message = jpeg_silent;
    err.hit_end_of_data = 0;

    if (setjmp(err.jump)) {
        if (err.hit_end_of_data) {
            status = CONVZOO_IMAGE_TRUNCATED;
            snprintf(out->message, sizeof out->message, "truncated JPEG data");
        } else {
            if (status == CONVZOO_IMAGE_OK) status = CONVZOO_IMAGE_CORRUPT;
            char text[JMSG_LENGTH_MAX];
            (*cinfo.err->format_message)((j_common_ptr)&cinfo, text);
            snprintf(out->message, sizeof out->message, "%s", text);
        }
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(row);
        out->pixels = NULL;
        return status;
    }

    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    int cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_YCbCr:
    case JCS_RGB: cinfo.out_color_space = JCS_RGB; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; cmyk = 1; break;
    default:
        status = CONVZOO_IMAGE_UNSUPPORTED;
        snprintf(out->message, sizeof out->message, "unsupported JPEG colour space %d", (int)cinfo.jpeg_color_space);
        jpeg_destroy_decompress(&cinfo);
        return status;
    }
    if (err.hit_end_of_data) longjmp(err.jump, 1);
    if ((long long)cinfo.image_width * cinfo.image_height > max_pixels) {
        snprintf(out->message, sizeof out->message, "%ux%u pixels exceed the limit of %lld",
                 cinfo.image_width, cinfo.image_height, max_pixels);
        jpeg_destroy_decompress(&cinfo);
        return CONVZOO_IMAGE_TOO_LARGE;
    }

    jpeg_start_decompress(&cinfo);
    int width = (int)cinfo.output_width, height = (int)cinfo.output_height;
    int decoded_channels = cinfo.output_components;
    int channels = cmyk ? 3 : decoded_channels;
    pixels = malloc((size_t)width * height * channels);
    if (cmyk) row = malloc((size_t)width * 4);
    if (!pixels || (cmyk && !row)) {
        status = CONVZOO_IMAGE_OUT_OF_MEMORY;
        snprintf(out->message, sizeof out->message, "out of memory for %dx%d pixels", width, height);
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(row);
        return status;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        unsigned char *target = pixels + (size_t)cinfo.output_scanline * width * channels;
        JSAMPROW rows[1] = {cmyk ? row : target};
        jpeg_read_scanlines(&cinfo, rows, 1);
        if (cmyk) {
            for (int x = 0; x < width; x++) {
                const unsigned char *p = row + x * 4;
                target[x * 3 + 0] = cmyk_channel(p[0], p[3]);
                target[x * 3 + 1] = cmyk_channel(p[1], p[3]);
                target[x * 3 + 2] = cmyk_channel(p[2], p[3]);
            }
        }
        if (err.hit_end_of_data) longjmp(err.jump, 1);
    }
    jpeg_finish_decompress(&cinfo);
    // A stream cut after the last scanline's data but before EOI still decodes every pixel;
    // Pillow accepts it too, so only data missing inside the image counts as truncation.
    jpeg_destroy_decompress(&cinfo);
    free(row);

    out->pixels = pixels;
    out->width = width;
    out->height = height;
    out->channels = channels;
    return CONVZOO_IMAGE_OK;
}

void convzoo_image_release(convzoo_image *image) {
    free(image->pixels);
    image->pixels = NULL;
}
