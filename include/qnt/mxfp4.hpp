// Public header of mxfp4: the format and the API.
#pragma once

#include "core/api.hpp"
#include "kernels/dispatch.hpp"
#include "formats/mxfp4.hpp"
