// libjpeg-turbo's libjpeg API (Debian libjpeg62-turbo-dev). jpeglib.h needs stdio.h (FILE) and
// stddef.h (size_t) before it.
#include <stddef.h>
#include <stdio.h>
#include <jpeglib.h>
#include <jerror.h>
