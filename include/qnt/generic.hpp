// Public header of the generic formats symmetric<Bits, Group, Scale> and
// affine<Bits, Group, Scale>: the formats and the API.
#pragma once

#include "core/api.hpp"
#include "kernels/dispatch.hpp"
#include "formats/affine.hpp"
#include "formats/symmetric.hpp"
