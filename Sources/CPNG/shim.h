// libpng 1.6 (Debian libpng-dev); pkg-config adds /usr/include/libpng16.
#include <png.h>
