// Public header of q4_1 (an affine<> instance): the format and the API.
#pragma once

#include "core/api.hpp"
#include "kernels/dispatch.hpp"
#include "formats/affine.hpp"
