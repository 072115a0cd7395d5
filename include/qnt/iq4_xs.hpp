// Public header of iq4_xs: the format and the API.
#pragma once

#include "core/api.hpp"
#include "kernels/dispatch.hpp"
#include "formats/iq4_xs.hpp"
